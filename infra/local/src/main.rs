//! `omnidesk`: the embedded runtime and its admin commands.

use clap::{Args, Parser, Subcommand};
use omnidesk::config::{Config, VARIABLES};
use omnidesk::{admin, app, bench};

#[derive(Debug, Parser)]
#[command(
    name = "omnidesk",
    version,
    about = "Telegram-first omnichannel AI customer service — embedded runtime"
)]
struct Cli {
    /// Run `agent add|list`, `bot add|list` and `telegram …` against this DynamoDB table of an
    /// AWS deployment (the stack's TableName output) instead of the local SQLite store.
    /// Uses the AWS credentials and region of the environment.
    #[arg(long, global = true, env = admin::AWS_TABLE_VAR)]
    aws_table: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole system in one process (HTTP API, webhook, WebSocket, workers).
    #[command(after_help = config_help())]
    Serve,
    /// Manage agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Manage teams: their queues, hours, timeouts and prompts.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Check, load and show the routing rules (`OMNIDESK_RULES`).
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Manage Telegram bots.
    #[command(subcommand)]
    Bot(BotCommand),
    /// Talk to the Telegram Bot API for a stored bot.
    #[command(subcommand)]
    Telegram(TelegramCommand),
    /// Manage the websites that embed the chat widget.
    #[command(subcommand)]
    Website(WebsiteCommand),
    /// Manage the mailboxes customers write to.
    #[command(subcommand)]
    Mailbox(MailboxCommand),
    /// The knowledge base the AI answers from (`OMNIDESK_AI=kb`, the default) and gives a
    /// model as context.
    #[command(subcommand)]
    Faq(FaqCommand),
    /// The translation glossary: terms with a fixed translation, or never translated.
    #[command(subcommand)]
    Glossary(GlossaryCommand),
    /// Import raw e-mail and look after mail that could not be processed.
    #[command(subcommand)]
    Email(EmailCommand),
    /// List rejected webhook bodies and dead-lettered jobs.
    DeadLetters {
        /// How many of each to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Benchmark the system in-process on loopback with a fake Telegram Bot API.
    Bench(bench::BenchArgs),
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Create an agent who can log in to the dashboard.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// At least 8 characters.
        #[arg(long)]
        password: String,
        /// Conversations the agent takes at once (default 10).
        #[arg(long)]
        capacity: Option<u32>,
        /// The agent's own language (ISO 639-1, e.g. `en`).
        #[arg(long)]
        language: Option<String>,
        /// Other languages the agent reads, comma-separated (`zh,ru`).
        #[arg(long, value_delimiter = ',')]
        reads: Vec<String>,
        /// A team the agent belongs to (repeat, or comma-separate, for several); it must exist.
        #[arg(long = "team", value_delimiter = ',')]
        teams: Vec<String>,
        /// The agent's skills, comma-separated (`billing,returns`).
        #[arg(long, value_delimiter = ',')]
        skills: Vec<String>,
        /// admin (settings, bots, rules, agents), supervisor (every conversation, reports,
        /// reassign, merge) or agent (their teams' conversations). Default: admin for the
        /// deployment's first agent, agent after.
        #[arg(long)]
        role: Option<String>,
    },
    /// Change an agent's role (their sessions end; they sign in again).
    Role {
        #[arg(long)]
        email: String,
        /// admin, supervisor or agent.
        #[arg(long)]
        role: String,
    },
    /// Turn off an agent's two-factor sign-in (a lost phone); their sessions end.
    TotpReset {
        #[arg(long)]
        email: String,
    },
    /// List agents.
    List,
}

#[derive(Debug, Subcommand)]
enum TeamCommand {
    /// Create a team, or change the given settings of an existing one.
    Add {
        /// 1–32 letters, digits, `-` or `_` (lowercased).
        #[arg(long)]
        name: String,
        /// IANA time zone of the hours and holidays (default UTC).
        #[arg(long)]
        timezone: Option<String>,
        /// Opening hours, e.g. "mon-fri 09:00-18:00; sat 10:00-14:00" (default: always open).
        #[arg(long)]
        hours: Option<String>,
        /// Closed days, YYYY-MM-DD, comma-separated.
        #[arg(long, value_delimiter = ',')]
        holidays: Option<Vec<String>>,
        /// Seconds an assigned conversation may go unanswered before it moves to the next
        /// agent (default 60; 0: never).
        #[arg(long)]
        answer_within: Option<u32>,
        /// Moves to the next agent before the customer gets the busy prompt (default 3).
        #[arg(long)]
        max_hops: Option<u32>,
        /// What the customer is told after the last hop (default: the deployment's text).
        #[arg(long)]
        busy_prompt: Option<String>,
        /// Sent once outside the hours; `{next}` is the next opening (default: the
        /// deployment's text).
        #[arg(long)]
        out_of_office: Option<String>,
    },
    /// List teams with their members.
    List,
    /// Delete a team (its members keep their other teams).
    Delete {
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Check a rules file (TOML or YAML); errors name the line. Stores nothing.
    Check { file: std::path::PathBuf },
    /// Check a rules file and make it the rules in force (routers pick it up within seconds).
    Load { file: std::path::PathBuf },
    /// Print the rules in force.
    Show,
}

#[derive(Debug, Subcommand)]
enum BotCommand {
    /// Add (or update) a bot. Its webhook is POST /telegram/<bot id>/webhook, where the bot id
    /// is the numeric part of the token before `:`.
    Add(BotAdd),
    /// List bots.
    List,
}

#[derive(Debug, Args)]
struct BotAdd {
    /// The token from @BotFather (`<bot id>:<secret>`).
    #[arg(long)]
    token: String,
    /// Secret Telegram must send in X-Telegram-Bot-Api-Secret-Token (1–256 of A-Za-z0-9_-).
    #[arg(long)]
    webhook_secret: String,
    /// Receive updates by long polling (getUpdates) instead of a webhook: no public URL needed.
    #[arg(long)]
    poll: bool,
    /// Do not call getMe to check the token and learn the bot's username.
    #[arg(long)]
    no_verify: bool,
}

#[derive(Debug, Subcommand)]
enum WebsiteCommand {
    /// Add a website; prints its id (for `data-website`) on the last line.
    Add {
        #[arg(long)]
        name: String,
        /// An origin allowed to embed the widget (`https://shop.example.com`); repeat for more.
        #[arg(long = "origin", required = true)]
        origins: Vec<String>,
        /// The Telegram bot visitors can continue on ("Continue on Telegram").
        #[arg(long)]
        bot: Option<String>,
        /// The secret the site signs its users' ids with (identity verification).
        #[arg(long)]
        identity_secret: Option<String>,
        /// Ask for name and e-mail before the first message.
        #[arg(long)]
        prechat: bool,
    },
    /// List websites.
    List,
}

#[derive(Debug, Subcommand)]
enum MailboxCommand {
    /// Add (or update) a mailbox: mail to it becomes conversations, replies go out from it.
    Add {
        /// The address customers write to (`support@example.com`).
        #[arg(long)]
        address: String,
        /// The name replies are sent under ("Example Support").
        #[arg(long)]
        name: Option<String>,
        /// The Telegram bot customers are offered to continue on (id from `bot list`).
        #[arg(long)]
        bot: Option<String>,
    },
    /// List mailboxes.
    List,
}

#[derive(Debug, Subcommand)]
enum FaqCommand {
    /// Add an entry: one or more ways customers ask, and the answer.
    Add {
        /// A question variant (repeat for several).
        #[arg(long = "question", required = true)]
        questions: Vec<String>,
        #[arg(long)]
        answer: String,
        /// The language of the entry (ISO 639-1, e.g. `en`); unset: any.
        #[arg(long)]
        language: Option<String>,
    },
    /// Import entries from CSV (header `question,answer[,language]`; rows with the same
    /// answer are one entry with several question variants) or JSON (a list of
    /// `{"questions": [...], "answer": ..., "language": ...}`), by the file's extension.
    /// Importing the same file again changes nothing.
    Import { file: std::path::PathBuf },
    /// List the entries.
    List,
    /// Delete an entry by id.
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
enum GlossaryCommand {
    /// Replace the glossary with a JSON file: `[{"term": "Omnidesk"}, {"term": "Premium
    /// plan", "translations": {"ru": "тариф Премиум"}}]` (a term without translations is never
    /// translated). Translations cached with the old glossary are not reused.
    Set { file: std::path::PathBuf },
    /// Print the glossary as JSON.
    Show,
}

#[derive(Debug, Subcommand)]
enum EmailCommand {
    /// Import raw messages (`.eml` files, or maildirs) as if they had arrived by SMTP.
    Import {
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// List kept messages: unreadable, quarantined or too large.
    Failed {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Import a kept message again (see `email failed`).
    Retry { id: String },
}

#[derive(Debug, Subcommand)]
enum TelegramCommand {
    /// Point Telegram at this server's webhook (with the bot's secret token).
    SetWebhook {
        #[arg(long)]
        bot_id: String,
        /// Public https base URL (…/telegram/<id>/webhook is appended) or the full webhook URL.
        #[arg(long)]
        url: String,
        /// Discard updates Telegram has queued.
        #[arg(long)]
        drop_pending: bool,
    },
    /// Show Telegram's view of the webhook (pending updates, last error).
    WebhookInfo {
        #[arg(long)]
        bot_id: String,
    },
}

fn config_help() -> String {
    let mut s = String::from("Environment (also read from ./.env):\n");
    for (name, default, what) in VARIABLES {
        s.push_str(&format!("  {name:<28} {what} [default: {default}]\n"));
    }
    s
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::from_env()?;
    let quiet = matches!(cli.command, Command::Bench(_));
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if quiet { "warn" } else { "info" })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    match cli.command {
        Command::Serve => {
            let app = app::start(&config).await?;
            println!("omnidesk listening on http://{}", app.addr);
            tokio::select! {
                res = app.wait() => res?,
                _ = tokio::signal::ctrl_c() => println!("shutting down"),
            }
        }
        Command::Agent(AgentCommand::Add {
            email,
            name,
            password,
            capacity,
            language,
            reads,
            teams,
            skills,
            role,
        }) => {
            let role = role
                .as_deref()
                .map(omnidesk_domain::Role::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            let own = language.is_some();
            let mut langs: Vec<String> = language.into_iter().collect();
            langs.extend(reads);
            // Checked before the agent exists: a typo creates nothing.
            let parsed = admin::parse_languages(&langs)?;
            let mut agent = admin::agent_add_with(
                &target, &email, &name, &password, capacity, &teams, &skills, role,
            )
            .await?;
            if !parsed.is_empty() {
                let primary = own.then(|| parsed[0].clone());
                agent = admin::agent_set_languages(&target, agent, primary, parsed).await?;
            }
            println!(
                "agent {} <{}> created (id {}, {})",
                agent.name,
                agent.email,
                agent.id,
                agent.role.as_str()
            );
        }
        Command::Team(TeamCommand::Add {
            name,
            timezone,
            hours,
            holidays,
            answer_within,
            max_hops,
            busy_prompt,
            out_of_office,
        }) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            let spec = admin::TeamSpec {
                name,
                timezone,
                hours,
                holidays,
                answer_within_secs: answer_within,
                max_hops,
                busy_prompt,
                out_of_office,
            };
            let (team, existed) = admin::team_add(&target, spec).await?;
            println!(
                "team {} {} ({}; hours {}; answer within {} s; {} hops)",
                team.name,
                if existed { "updated" } else { "created" },
                team.timezone,
                if team.hours.is_empty() {
                    "always"
                } else {
                    &team.hours
                },
                team.answer_within_secs,
                team.max_hops
            );
        }
        Command::Team(TeamCommand::List) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            for (t, members) in admin::team_list(&target).await? {
                println!(
                    "{:<20} {:<20} hours {:<32} answer within {:>4} s  {} hops  members {}",
                    t.name.as_str(),
                    t.timezone,
                    if t.hours.is_empty() {
                        "always"
                    } else {
                        &t.hours
                    },
                    t.answer_within_secs,
                    t.max_hops,
                    if members.is_empty() {
                        "-".to_owned()
                    } else {
                        members.join(",")
                    }
                );
            }
        }
        Command::Team(TeamCommand::Delete { name }) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            if admin::team_delete(&target, &name).await? {
                println!("team {name} deleted");
            } else {
                anyhow::bail!("there is no team {name:?}");
            }
        }
        Command::Rules(RulesCommand::Check { file }) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            let (set, _, _) = admin::rules_check(&target, &file).await?;
            println!("{}: {} rules, no errors", file.display(), set.len());
        }
        Command::Rules(RulesCommand::Load { file }) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            let (version, changed) = admin::rules_load(&target, &file).await?;
            if changed {
                println!("rules from {} in force (version {version})", file.display());
            } else {
                println!("rules unchanged (version {version})");
            }
        }
        Command::Rules(RulesCommand::Show) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            match admin::rules_show(&target).await? {
                Some(r) => print!("# version {} ({})\n{}", r.version, r.format, r.source),
                None => println!("no rules: every message goes through the built-in bot"),
            }
        }
        Command::Agent(AgentCommand::Role { email, role }) => {
            let role =
                omnidesk_domain::Role::parse(&role).map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            let agent = admin::agent_set_role(&target, &email, role).await?;
            println!(
                "agent {} <{}> is now {}",
                agent.name,
                agent.email,
                agent.role.as_str()
            );
        }
        Command::Agent(AgentCommand::TotpReset { email }) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            let agent = admin::agent_reset_totp(&target, &email).await?;
            println!(
                "agent {} <{}>: two-factor sign-in is off; they sign in with their password and can set it up again",
                agent.name, agent.email
            );
        }
        Command::Agent(AgentCommand::List) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            for a in admin::agent_list_of(&target).await? {
                let langs: Vec<&str> = a.languages.iter().map(|l| l.as_str()).collect();
                println!(
                    "{}  {:<30} {:<24} {:<10} {:<8} capacity {}  reads {}",
                    a.id,
                    a.email,
                    a.name,
                    a.role.as_str(),
                    a.status.as_str(),
                    a.capacity,
                    if langs.is_empty() {
                        "-".to_owned()
                    } else {
                        langs.join(",")
                    }
                );
            }
        }
        Command::Bot(BotCommand::Add(b)) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            let bot = admin::bot_add_to(
                &target,
                &config,
                &b.token,
                &b.webhook_secret,
                b.poll,
                !b.no_verify,
            )
            .await?;
            let name = bot
                .username
                .as_deref()
                .map(|u| format!(" (@{u})"))
                .unwrap_or_default();
            match bot.mode {
                omnidesk_core::BotMode::Polling => println!(
                    "bot {}{name} added; `omnidesk serve` polls getUpdates",
                    bot.id
                ),
                omnidesk_core::BotMode::Webhook => {
                    println!(
                        "bot {}{name} added; webhook: POST /telegram/{}/webhook",
                        bot.id, bot.id
                    )
                }
            }
        }
        Command::Bot(BotCommand::List) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            for b in admin::bot_list_of(&target).await? {
                println!(
                    "{}  @{}  {:?}",
                    b.id,
                    b.username.unwrap_or_default(),
                    b.mode
                );
            }
        }
        Command::Telegram(TelegramCommand::SetWebhook {
            bot_id,
            url,
            drop_pending,
        }) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            let url = admin::set_webhook_on(&target, &bot_id, &url, drop_pending).await?;
            println!("webhook set to {url} (with the bot's secret token)");
        }
        Command::Telegram(TelegramCommand::WebhookInfo { bot_id }) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            let info = admin::webhook_info_of(&target, &bot_id).await?;
            println!(
                "url: {}",
                if info.url.is_empty() {
                    "(none)"
                } else {
                    &info.url
                }
            );
            println!("pending updates: {}", info.pending_update_count);
            if let Some(msg) = info.last_error_message {
                println!(
                    "last error: {msg} (at {})",
                    info.last_error_date.unwrap_or_default()
                );
            }
        }
        Command::DeadLetters { limit } => {
            if cli.aws_table.is_some() {
                anyhow::bail!(
                    "dead-letters reads the local store; on AWS look at the stack's dead-letter queues (outputs *DeadLetterQueueUrl)"
                );
            }
            print!("{}", admin::dead_letters(&config, limit).await?)
        }
        Command::Bench(args) => bench::run(args).await?,
        Command::Faq(cmd) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            match cmd {
                FaqCommand::Add {
                    questions,
                    answer,
                    language,
                } => {
                    let e =
                        admin::faq_add(&target, &questions, &answer, language.as_deref()).await?;
                    println!(
                        "FAQ entry {} added with {} question(s) ({})",
                        e.id,
                        e.questions.len(),
                        target.description
                    );
                }
                FaqCommand::Import { file } => {
                    let text = std::fs::read_to_string(&file)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
                    let json = file
                        .extension()
                        .is_some_and(|x| x.eq_ignore_ascii_case("json"));
                    let (entries, variants) = admin::faq_import(&target, &text, json)
                        .await
                        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                    println!(
                        "{entries} FAQ entries with {variants} question variants imported ({})",
                        target.description
                    );
                }
                FaqCommand::List => {
                    for e in admin::faq_list(&target).await? {
                        println!(
                            "{}\t{}\t{}\t{} | {}",
                            e.id,
                            e.language.as_ref().map_or("any", |l| l.as_str()),
                            if e.enabled { "on" } else { "off" },
                            e.questions.join(" / "),
                            e.answer.replace('\n', " ")
                        );
                    }
                }
                FaqCommand::Delete { id } => {
                    if !admin::faq_delete(&target, &id).await? {
                        anyhow::bail!("no FAQ entry {id}");
                    }
                    println!("FAQ entry {id} deleted");
                }
            }
        }
        Command::Glossary(cmd) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            match cmd {
                GlossaryCommand::Set { file } => {
                    let text = std::fs::read_to_string(&file)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
                    let g = admin::glossary_set(&target, &text).await?;
                    println!(
                        "glossary version {} with {} terms stored ({})",
                        g.version,
                        g.entries.len(),
                        target.description
                    );
                }
                GlossaryCommand::Show => {
                    let g = admin::glossary_show(&target).await?;
                    println!("{}", serde_json::to_string_pretty(&g.entries)?);
                }
            }
        }
        Command::Mailbox(cmd) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            match cmd {
                MailboxCommand::Add { address, name, bot } => {
                    let m = admin::mailbox_add(&target, &address, name, bot.as_deref()).await?;
                    println!(
                        "mailbox {} added{}",
                        m.address,
                        m.bot_id
                            .map(|b| format!("; customers are offered to continue on bot {b}"))
                            .unwrap_or_default()
                    );
                }
                MailboxCommand::List => {
                    for m in admin::mailbox_list(&target).await? {
                        println!(
                            "{}  {}  bot {}",
                            m.address,
                            m.name.as_deref().unwrap_or("-"),
                            m.bot_id
                                .map(|b| b.to_string())
                                .unwrap_or_else(|| "-".into())
                        );
                    }
                }
            }
        }
        Command::Email(cmd) => {
            if cli.aws_table.is_some() {
                anyhow::bail!(
                    "email import|failed|retry work on the local store; on AWS, SES delivers \
                     mail to the email-inbound function"
                );
            }
            match cmd {
                EmailCommand::Import { files } => {
                    for line in admin::email_import(&config, &files).await? {
                        println!("{line}");
                    }
                }
                EmailCommand::Failed { limit } => {
                    print!("{}", admin::email_failed(&config, limit).await?)
                }
                EmailCommand::Retry { id } => {
                    println!("{}", admin::email_retry(&config, &id).await?)
                }
            }
        }
        Command::Website(cmd) => {
            let target = admin::Target::select(&config, cli.aws_table.as_deref()).await?;
            match cmd {
                WebsiteCommand::Add {
                    name,
                    origins,
                    bot,
                    identity_secret,
                    prechat,
                } => {
                    let w = admin::website_add(
                        &target,
                        &name,
                        &origins,
                        bot.as_deref(),
                        identity_secret,
                        prechat,
                    )
                    .await?;
                    println!(
                        "website \"{}\" added; embed it with:\n  <script src=\"<base>/widget.js\" data-website=\"{}\" async></script>",
                        w.name, w.id
                    );
                    println!("{}", w.id);
                }
                WebsiteCommand::List => {
                    for w in admin::website_list(&target).await? {
                        let bot = w
                            .bot_id
                            .map(|b| b.to_string())
                            .unwrap_or_else(|| "-".into());
                        println!("{}  {}  bot {}  {}", w.id, w.name, bot, w.origins.join(" "));
                    }
                }
            }
        }
    }
    Ok(())
}
