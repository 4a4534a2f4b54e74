//! A bounded least-recently-used map, small enough not to need a crate.

use std::collections::HashMap;

const NIL: usize = usize::MAX;

struct Slot<V> {
    key: String,
    value: V,
    prev: usize,
    next: usize,
}

/// Holds at most `capacity` entries; inserting into a full map evicts the entry used least
/// recently. A capacity of 0 holds nothing.
pub(crate) struct Lru<V> {
    map: HashMap<String, usize>,
    slots: Vec<Slot<V>>,
    free: Vec<usize>,
    /// Most recently used.
    head: usize,
    /// Least recently used.
    tail: usize,
    capacity: usize,
}

impl<V> Lru<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::with_capacity(capacity.min(1 << 16)),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            capacity,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The value under `key`, now the most recently used.
    pub(crate) fn get(&mut self, key: &str) -> Option<&V> {
        let i = *self.map.get(key)?;
        self.unlink(i);
        self.push_front(i);
        Some(&self.slots[i].value)
    }

    pub(crate) fn insert(&mut self, key: String, value: V) {
        if self.capacity == 0 {
            return;
        }
        if let Some(&i) = self.map.get(&key) {
            self.slots[i].value = value;
            self.unlink(i);
            self.push_front(i);
            return;
        }
        let i = if self.map.len() >= self.capacity {
            let i = self.tail;
            self.unlink(i);
            self.map.remove(&self.slots[i].key);
            self.slots[i].key.clone_from(&key);
            self.slots[i].value = value;
            i
        } else if let Some(i) = self.free.pop() {
            self.slots[i].key.clone_from(&key);
            self.slots[i].value = value;
            i
        } else {
            self.slots.push(Slot {
                key: key.clone(),
                value,
                prev: NIL,
                next: NIL,
            });
            self.slots.len() - 1
        };
        self.map.insert(key, i);
        self.push_front(i);
    }

    pub(crate) fn remove(&mut self, key: &str) {
        if let Some(i) = self.map.remove(key) {
            self.unlink(i);
            self.free.push(i);
        }
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.slots[i].prev, self.slots[i].next);
        match prev {
            NIL => self.head = next,
            p => self.slots[p].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slots[n].prev = prev,
        }
    }

    fn push_front(&mut self, i: usize) {
        self.slots[i].prev = NIL;
        self.slots[i].next = self.head;
        match self.head {
            NIL => self.tail = i,
            h => self.slots[h].prev = i,
        }
        self.head = i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut lru = Lru::new(2);
        lru.insert("a".to_owned(), 1);
        lru.insert("b".to_owned(), 2);
        assert_eq!(lru.get("a"), Some(&1));
        lru.insert("c".to_owned(), 3);
        assert_eq!(lru.get("b"), None);
        assert_eq!(
            (lru.get("a").copied(), lru.get("c").copied()),
            (Some(1), Some(3))
        );
        lru.insert("a".to_owned(), 10);
        lru.insert("d".to_owned(), 4);
        assert_eq!(
            (lru.get("a").copied(), lru.get("c").copied()),
            (Some(10), None)
        );
        assert_eq!(lru.len(), 2);
    }

    #[test]
    fn removed_slots_are_reused() {
        let mut lru = Lru::new(3);
        for k in ["a", "b", "c"] {
            lru.insert(k.to_owned(), k);
        }
        lru.remove("b");
        lru.remove("x");
        lru.insert("d".to_owned(), "d");
        assert_eq!(lru.slots.len(), 3);
        assert_eq!(lru.len(), 3);
        lru.insert("e".to_owned(), "e");
        assert_eq!(lru.get("a"), None);
        assert_eq!(
            ["c", "d", "e"].map(|k| lru.get(k).copied()),
            [Some("c"), Some("d"), Some("e")]
        );
    }

    #[test]
    fn a_capacity_of_zero_holds_nothing() {
        let mut lru = Lru::new(0);
        lru.insert("a".to_owned(), 1);
        assert_eq!(lru.get("a"), None);
    }
}
