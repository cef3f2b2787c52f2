//! One side of an L2 book: price units -> quantity units, best level first.

use std::collections::BTreeMap;

use crate::types::Side;

/// One side of the book. Bids iterate high to low, asks low to high.
#[derive(Clone, Debug, Default)]
pub struct Ladder {
    levels: BTreeMap<i64, i64>,
    is_bid: bool,
}

impl Ladder {
    pub fn new(side: Side) -> Ladder {
        Ladder { levels: BTreeMap::new(), is_bid: side == Side::Buy }
    }

    /// Set the quantity at a price; zero removes the level.
    #[inline]
    pub fn set(&mut self, price: i64, qty: i64) {
        if qty == 0 {
            self.levels.remove(&price);
        } else {
            self.levels.insert(price, qty);
        }
    }

    pub fn clear(&mut self) {
        self.levels.clear();
    }

    #[inline]
    pub fn best(&self) -> Option<(i64, i64)> {
        let kv = if self.is_bid { self.levels.last_key_value() } else { self.levels.first_key_value() };
        kv.map(|(p, q)| (*p, *q))
    }

    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    pub fn qty_at(&self, price: i64) -> i64 {
        self.levels.get(&price).copied().unwrap_or(0)
    }

    /// Levels from the best outwards.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (i64, i64)> + '_> {
        if self.is_bid {
            Box::new(self.levels.iter().rev().map(|(p, q)| (*p, *q)))
        } else {
            Box::new(self.levels.iter().map(|(p, q)| (*p, *q)))
        }
    }

    /// The best `n` levels, best first, without boxing the iterator (hot paths: Kraken's checksum).
    #[inline]
    pub fn try_for_each_top<E>(&self, n: usize, mut f: impl FnMut(i64, i64) -> Result<(), E>) -> Result<(), E> {
        if self.is_bid {
            self.levels.iter().rev().take(n).try_for_each(|(p, q)| f(*p, *q))
        } else {
            self.levels.iter().take(n).try_for_each(|(p, q)| f(*p, *q))
        }
    }

    /// Drop every level worse than the best `depth` (Kraken truncates to the subscribed depth).
    pub fn truncate(&mut self, depth: usize) {
        while self.levels.len() > depth {
            if self.is_bid {
                self.levels.pop_first();
            } else {
                self.levels.pop_last();
            }
        }
    }
}
