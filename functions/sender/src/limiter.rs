//! Telegram's sending limits, in process: at most one message per interval per chat, at most
//! N messages per second per bot, and a per-bot hold after a 429.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use omnidesk_domain::{BotId, TelegramChatId};
use parking_lot::Mutex;
use tokio::time::Instant;

/// When the per-chat map grows past this, entries whose slot has passed are dropped.
const PRUNE_AT: usize = 10_000;

/// Spaces sends so a bot stays inside Telegram's limits ("avoid sending more than one message
/// per second" in a chat, "not more than 30 messages per second" overall). `acquire` waits for
/// a free slot; it never fails.
///
/// The state lives in this process. On Lambda it bounds one instance; the outbound FIFO queue
/// (group = conversation) and the `retry_after` hold keep several instances polite, and a 429
/// that still happens comes back as `JobOutcome::RetryAfter`.
#[derive(Debug)]
pub struct RateLimiter {
    per_chat_interval: Duration,
    per_bot_per_second: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Earliest next send per chat.
    chats: HashMap<(BotId, TelegramChatId), Instant>,
    /// Send times of the last second, per bot.
    bots: HashMap<BotId, VecDeque<Instant>>,
    /// No sends for the bot before this (Telegram's `retry_after`).
    holds: HashMap<BotId, Instant>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::telegram()
    }
}

impl RateLimiter {
    /// Telegram's documented limits: 1 message/s per chat, 30 messages/s per bot.
    pub fn telegram() -> Self {
        Self::new(Duration::from_secs(1), 30)
    }

    /// Custom limits (`per_bot_per_second` of 0 is treated as 1).
    pub fn new(per_chat_interval: Duration, per_bot_per_second: u32) -> Self {
        Self {
            per_chat_interval,
            per_bot_per_second: usize::try_from(per_bot_per_second.max(1)).unwrap_or(usize::MAX),
            state: Mutex::new(State::default()),
        }
    }

    /// Waits until `bot` may send to `chat`, then takes the slot.
    pub async fn acquire(&self, bot: BotId, chat: TelegramChatId) {
        loop {
            let wait = {
                let mut state = self.state.lock();
                let now = Instant::now();
                match self.wait_time(&mut state, bot, chat, now) {
                    None => {
                        state
                            .chats
                            .insert((bot, chat), now + self.per_chat_interval);
                        state.bots.entry(bot).or_default().push_back(now);
                        if state.chats.len() > PRUNE_AT {
                            state.chats.retain(|_, next| *next > now);
                        }
                        return;
                    }
                    Some(wait) => wait,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Holds every send of `bot` for `duration` (after a 429 `retry_after`).
    pub fn hold_bot(&self, bot: BotId, duration: Duration) {
        let until = Instant::now() + duration;
        let mut state = self.state.lock();
        let hold = state.holds.entry(bot).or_insert(until);
        *hold = (*hold).max(until);
    }

    /// How long to wait before a send is allowed (`None` = now).
    fn wait_time(
        &self,
        state: &mut State,
        bot: BotId,
        chat: TelegramChatId,
        now: Instant,
    ) -> Option<Duration> {
        let mut until = now;
        if let Some(hold) = state.holds.get(&bot).copied() {
            if hold > now {
                until = until.max(hold);
            } else {
                state.holds.remove(&bot);
            }
        }
        if let Some(next) = state.chats.get(&(bot, chat)) {
            until = until.max(*next);
        }
        let window = state.bots.entry(bot).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            window.pop_front();
        }
        if window.len() >= self.per_bot_per_second
            && let Some(oldest) = window.front()
        {
            until = until.max(*oldest + Duration::from_secs(1));
        }
        (until > now).then(|| until - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot(n: i64) -> BotId {
        BotId::parse(&n.to_string()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn two_sends_to_one_chat_are_a_second_apart_while_other_chats_go_at_once() {
        let limiter = RateLimiter::telegram();
        let start = Instant::now();
        limiter.acquire(bot(1), TelegramChatId(10)).await;
        limiter.acquire(bot(1), TelegramChatId(11)).await;
        limiter.acquire(bot(2), TelegramChatId(10)).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire(bot(1), TelegramChatId(10)).await;
        assert!(start.elapsed() >= Duration::from_secs(1));
        assert!(start.elapsed() < Duration::from_millis(1100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_bot_sends_at_most_thirty_messages_per_second() {
        let limiter = RateLimiter::telegram();
        let start = Instant::now();
        for chat in 0..30 {
            limiter.acquire(bot(1), TelegramChatId(chat)).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire(bot(1), TelegramChatId(30)).await;
        assert!(start.elapsed() >= Duration::from_secs(1));
        // Another bot has its own budget.
        let other = Instant::now();
        limiter.acquire(bot(2), TelegramChatId(30)).await;
        assert_eq!(other.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_delays_every_chat_of_the_bot() {
        let limiter = RateLimiter::telegram();
        limiter.hold_bot(bot(1), Duration::from_secs(3));
        let start = Instant::now();
        limiter.acquire(bot(2), TelegramChatId(1)).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire(bot(1), TelegramChatId(1)).await;
        assert!(start.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test]
    async fn real_time_spacing_per_chat_is_at_least_the_interval() {
        let limiter = RateLimiter::new(Duration::from_millis(300), 30);
        let start = std::time::Instant::now();
        limiter.acquire(bot(1), TelegramChatId(1)).await;
        limiter.acquire(bot(1), TelegramChatId(2)).await;
        assert!(start.elapsed() < Duration::from_millis(100));
        limiter.acquire(bot(1), TelegramChatId(1)).await;
        assert!(start.elapsed() >= Duration::from_millis(300));
    }
}
