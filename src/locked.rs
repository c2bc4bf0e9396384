//! The one lock the operator's shared state uses.
//!
//! Every map the controllers share (backoff, written versions, ownership, metrics'
//! object states, ...) is held behind a [`Locked`]. A panic while the lock is held
//! leaves the data as the panicking code left it; every such critical section here
//! only inserts, removes or replaces whole entries, so what remains is consistent and
//! the next holder goes on with it rather than turning one panic into a panic of every
//! later reconcile. That choice is made here once, not at each lock.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// A value shared between tasks, locked for short, synchronous sections only (never
/// across an `.await`).
#[derive(Debug, Default)]
pub struct Locked<T>(Mutex<T>);

impl<T> Locked<T> {
    pub const fn new(value: T) -> Self {
        Self(Mutex::new(value))
    }

    /// The value, for as long as the guard lives.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value, the lock taken apart.
    pub fn into_inner(self) -> T {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: Clone> Locked<T> {
    /// A copy of the value (a handle, for the caches).
    pub fn get(&self) -> T {
        self.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_holding_the_lock_leaves_the_value_to_the_next_holder() {
        let shared = std::sync::Arc::new(Locked::new(vec![1]));
        let holder = shared.clone();
        let panicked = std::thread::spawn(move || {
            let mut value = holder.lock();
            value.push(2);
            panic!("a reconcile panics while holding the lock");
        })
        .join();
        assert!(panicked.is_err());
        shared.lock().push(3);
        assert_eq!(*shared.lock(), [1, 2, 3]);
    }
}
