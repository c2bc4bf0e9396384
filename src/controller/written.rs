//! Whether the watch cache holds the operator's own last status write of an object.
//!
//! A reconcile may decide on the cached copy of an object only when the cache holds
//! the operator's last status write of it (or the operator never wrote it): a copy
//! older than an intent the operator saved could send a write twice. A copy the cache
//! may not have caught up with is read from the apiserver instead. A reconcile that
//! only put the finalizer on counts that write as its last (it writes no status).
//!
//! Until stop 37 the check was "the cached copy is the very version of the last
//! write": any later change of the object (a person's spec change, the finalizer the
//! operator added) failed it, and each such reconcile read the object from the
//! apiserver first (a round trip in front of a person's change, six reads per
//! customer onboarding). Here the watch tells when the cache has taken the write in:
//! from then on every copy the cache gives is at least as new.

use std::collections::HashMap;

use crate::locked::Locked;

/// What is known of the last status write of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Last {
    /// The cache holds it, or holds a newer copy: its copies can be decided on.
    InCache,
    /// The write that gave this resourceVersion has not been seen in the cache yet:
    /// only a copy of that version can be decided on (or one read afresh).
    Awaiting(String),
    /// A reconcile runs and may write: the version the cache took last meanwhile, to
    /// tell whether the cache already holds what it wrote when it ends.
    Reconciling { last_cached: Option<String> },
}

/// Per object (by key), what is known of the operator's last status write.
#[derive(Default)]
pub struct Written(Locked<HashMap<String, Last>>);

impl Written {
    /// Whether a cached copy of object `key` with `resource_version` may be decided
    /// on: it holds the last status write.
    pub fn is_current(&self, key: &str, resource_version: Option<&str>) -> bool {
        match self.0.lock().get(key) {
            None | Some(Last::InCache) => true,
            Some(Last::Awaiting(written)) => Some(written.as_str()) == resource_version,
            // A reconcile that ended without saying what it wrote: not known.
            Some(Last::Reconciling { .. }) => false,
        }
    }

    /// The cache took version `resource_version` of object `key` (a watch event,
    /// after the cache holds it).
    pub fn cached(&self, key: &str, resource_version: &str) {
        let mut map = self.0.lock();
        let Some(last) = map.get_mut(key) else {
            return;
        };
        match last {
            Last::Awaiting(written) if written == resource_version => *last = Last::InCache,
            Last::Reconciling { last_cached } => *last_cached = Some(resource_version.to_owned()),
            _ => {}
        }
    }

    /// A reconcile of object `key` starts its work, which may write its status.
    pub fn reconciling(&self, key: &str) {
        self.0
            .lock()
            .insert(key.to_owned(), Last::Reconciling { last_cached: None });
    }

    /// The reconcile of object `key` wrote its status last as `resource_version`.
    pub fn wrote(&self, key: &str, resource_version: String) {
        let mut map = self.0.lock();
        let seen = matches!(
            map.get(key),
            Some(Last::Reconciling { last_cached: Some(cached) }) if *cached == resource_version
        );
        let last = if seen {
            Last::InCache
        } else {
            Last::Awaiting(resource_version)
        };
        map.insert(key.to_owned(), last);
    }

    /// The reconcile of object `key` wrote nothing and decided on the copy with
    /// `resource_version`: the cache's own copy (`from_cache`), or one read from the
    /// apiserver, which the cache must catch up with.
    pub fn decided_on(&self, key: &str, resource_version: Option<String>, from_cache: bool) {
        let last = match (from_cache, resource_version) {
            (true, _) => Last::InCache,
            (false, Some(version)) => Last::Awaiting(version),
            (false, None) => return,
        };
        self.0.lock().insert(key.to_owned(), last);
    }

    /// Whether this process has reconciled (or written) object `key` before.
    pub fn knows(&self, key: &str) -> bool {
        self.0.lock().contains_key(key)
    }

    /// How many objects are remembered.
    pub fn len(&self) -> usize {
        self.0.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets an object that is gone.
    pub fn forget(&self, key: &str) {
        self.0.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::Written;

    #[test]
    fn a_copy_of_an_object_never_written_is_current() {
        assert!(Written::default().is_current("k", Some("1")));
    }

    #[test]
    fn until_the_cache_takes_a_write_only_that_version_is_current() {
        let written = Written::default();
        written.reconciling("k");
        written.wrote("k", "5".into());
        assert!(!written.is_current("k", Some("4")), "older than the write");
        assert!(
            !written.is_current("k", Some("6")),
            "not known to hold the write"
        );
        assert!(written.is_current("k", Some("5")));
        written.cached("k", "4");
        assert!(!written.is_current("k", Some("6")));
        written.cached("k", "5");
        assert!(
            written.is_current("k", Some("6")),
            "the cache took the write: a later change is decided on without a read"
        );
    }

    #[test]
    fn a_write_the_cache_took_before_the_reconcile_ended_is_in_the_cache() {
        let written = Written::default();
        written.reconciling("k");
        written.cached("k", "7");
        written.wrote("k", "7".into());
        assert!(written.is_current("k", Some("8")));
        written.reconciling("k");
        written.cached("k", "9");
        written.wrote("k", "10".into());
        assert!(
            !written.is_current("k", Some("11")),
            "the cache took another version"
        );
    }

    #[test]
    fn a_reconcile_that_did_not_say_how_it_ended_makes_the_next_read_afresh() {
        let written = Written::default();
        written.reconciling("k");
        assert!(!written.is_current("k", Some("3")));
        written.decided_on("k", Some("3".into()), false);
        assert!(!written.is_current("k", Some("4")));
        written.cached("k", "3");
        assert!(written.is_current("k", Some("4")));
    }

    #[test]
    fn deciding_on_the_caches_own_copy_leaves_it_current() {
        let written = Written::default();
        written.reconciling("k");
        written.wrote("k", "5".into());
        written.decided_on("k", Some("5".into()), true);
        assert!(written.is_current("k", Some("6")));
        assert!(written.knows("k"));
        written.forget("k");
        assert!(!written.knows("k"));
    }
}
