//! Which cached objects name which object: the objects of each customer, the customers
//! of each platform, the dial plans of each SIP connection. Kept from the watch events,
//! so that a change of one object finds the objects naming it without going through a
//! whole cache (an index apart from the API types, as Linkerd's policy controller keeps
//! its own).
//!
//! At 10,000 customers, going through every cached number block for each customer's
//! change, and through every customer and block for each reconcile's drift period, took
//! the operator most of a core (bench/README.md, stop 39). What an object names cannot
//! change (the schema keeps `customerRef`, `platformRef` and `sipConnectionRef`
//! immutable), so an object's place here changes only when it is deleted, and a new
//! listing rebuilds the index whole.

use std::collections::{HashMap, HashSet};

use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use super::kind::{Kind, found_by};
use crate::locked::Locked;

/// What an object names: the named object's namespace (`None` when it is
/// cluster-scoped, as an OCPlatform) and name.
pub type Named<'a> = (Option<&'a str>, &'a str);

/// The objects naming each object: by the named object's namespace ("" when it is
/// cluster-scoped), then its name.
type Index<K> = HashMap<String, HashMap<String, Referring<K>>>;

/// How many objects a list holds before it becomes a set.
const FEW: usize = 16;

/// The objects naming one object: a short list while they are few (a customer's
/// blocks: a set would take four times the memory), a set once they are many (a
/// platform's customers: a list would be searched whole at every watch event).
enum Referring<K: Kind> {
    Few(Vec<ObjectRef<K>>),
    Many(HashSet<ObjectRef<K>>),
}

impl<K: Kind> Default for Referring<K> {
    fn default() -> Self {
        Self::Few(Vec::new())
    }
}

impl<K: Kind> Referring<K> {
    fn insert(&mut self, found: ObjectRef<K>) {
        match self {
            Self::Few(few) if few.contains(&found) => {}
            Self::Few(few) if few.len() < FEW => {
                few.push(found);
                few.shrink_to_fit();
            }
            Self::Few(few) => {
                let mut many: HashSet<ObjectRef<K>> = few.drain(..).collect();
                many.insert(found);
                *self = Self::Many(many);
            }
            Self::Many(many) => {
                many.insert(found);
            }
        }
    }

    fn remove(&mut self, gone: &ObjectRef<K>) {
        match self {
            Self::Few(few) => few.retain(|r| r != gone),
            Self::Many(many) => {
                many.remove(gone);
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Few(few) => few.len(),
            Self::Many(many) => many.len(),
        }
    }

    fn to_vec(&self) -> Vec<ObjectRef<K>> {
        match self {
            Self::Few(few) => few.clone(),
            Self::Many(many) => many.iter().cloned().collect(),
        }
    }
}

/// The objects of kind `K` by what they name.
pub struct Referrers<K: Kind> {
    by_named: Locked<Index<K>>,
    names: fn(&K) -> Option<Named<'_>>,
}

impl<K: Kind> Referrers<K> {
    /// An empty index of the objects of kind `K` by what `names` says they name.
    pub fn new(names: fn(&K) -> Option<Named<'_>>) -> Self {
        Self {
            by_named: Locked::default(),
            names,
        }
    }

    /// Learns of a watch event of kind `K` once `store` holds it; a new listing
    /// rebuilds the index from `store`.
    pub fn observed(&self, event: &watcher::Event<K>, store: &Store<K>) {
        match event {
            watcher::Event::Apply(obj) => {
                let mut index = self.by_named.lock();
                self.insert(&mut index, obj);
            }
            watcher::Event::Delete(obj) => {
                let Some((namespace, name)) = (self.names)(obj) else {
                    return;
                };
                let mut index = self.by_named.lock();
                let namespace = namespace.unwrap_or_default();
                let Some(in_namespace) = index.get_mut(namespace) else {
                    return;
                };
                let gone = found_by(obj);
                if let Some(referrers) = in_namespace.get_mut(name) {
                    referrers.remove(&gone);
                    if referrers.len() == 0 {
                        in_namespace.remove(name);
                    }
                }
                if in_namespace.is_empty() {
                    index.remove(namespace);
                }
            }
            watcher::Event::InitDone => {
                let objects = store.state();
                let mut index = self.by_named.lock();
                index.clear();
                for obj in objects {
                    self.insert(&mut index, &obj);
                }
            }
            watcher::Event::Init | watcher::Event::InitApply(_) => {}
        }
    }

    /// The objects naming `namespace/name` (`namespace` `None` for a cluster-scoped
    /// object).
    pub fn of(&self, namespace: Option<&str>, name: &str) -> Vec<ObjectRef<K>> {
        self.by_named
            .lock()
            .get(namespace.unwrap_or_default())
            .and_then(|in_namespace| in_namespace.get(name))
            .map(Referring::to_vec)
            .unwrap_or_default()
    }

    /// How many objects name `namespace/name`.
    pub fn count(&self, namespace: Option<&str>, name: &str) -> usize {
        self.by_named
            .lock()
            .get(namespace.unwrap_or_default())
            .and_then(|in_namespace| in_namespace.get(name))
            .map_or(0, Referring::len)
    }

    fn insert(&self, index: &mut Index<K>, obj: &K) {
        let Some((namespace, name)) = (self.names)(obj) else {
            return;
        };
        index
            .entry(namespace.unwrap_or_default().to_owned())
            .or_default()
            .entry(name.to_owned())
            .or_default()
            .insert(found_by(obj));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::OCNumberBlock;
    use kube::runtime::reflector::store::Writer;

    fn block(namespace: &str, name: &str, customer: &str) -> OCNumberBlock {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "operatorconnect.io/v1alpha1",
            "kind": "OCNumberBlock",
            "metadata": {"namespace": namespace, "name": name, "uid": format!("{namespace}-{name}")},
            "spec": {
                "customerRef": {"name": customer}, "numbers": ["+14155550100"],
                "callingProfileId": "profile", "usage": "CallingUserAssignment"
            },
        }))
        .expect("a valid OCNumberBlock")
    }

    fn customer_of(block: &OCNumberBlock) -> Option<Named<'_>> {
        Some((
            block.metadata.namespace.as_deref(),
            &block.spec.customer_ref.name,
        ))
    }

    fn names(found: Vec<ObjectRef<OCNumberBlock>>) -> Vec<String> {
        let mut names: Vec<String> = found
            .into_iter()
            .map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_customer_finds_its_own_blocks_and_no_other_namespaces() {
        let index = Referrers::new(customer_of);
        let store = Writer::<OCNumberBlock>::default().as_reader();
        for obj in [
            block("a", "one", "acme"),
            block("a", "two", "acme"),
            block("a", "three", "other"),
            block("b", "one", "acme"),
        ] {
            index.observed(&watcher::Event::Apply(obj), &store);
        }
        // Heard twice (a status write): still one place.
        index.observed(&watcher::Event::Apply(block("a", "one", "acme")), &store);
        assert_eq!(names(index.of(Some("a"), "acme")), ["a/one", "a/two"]);
        assert_eq!(index.count(Some("a"), "acme"), 2);
        assert_eq!(names(index.of(Some("b"), "acme")), ["b/one"]);
        assert_eq!(index.count(Some("c"), "acme"), 0);
    }

    #[test]
    fn a_deleted_block_is_forgotten_and_an_empty_place_with_it() {
        let index = Referrers::new(customer_of);
        let store = Writer::<OCNumberBlock>::default().as_reader();
        index.observed(&watcher::Event::Apply(block("a", "one", "acme")), &store);
        index.observed(&watcher::Event::Apply(block("a", "two", "acme")), &store);
        index.observed(&watcher::Event::Delete(block("a", "one", "acme")), &store);
        assert_eq!(names(index.of(Some("a"), "acme")), ["a/two"]);
        index.observed(&watcher::Event::Delete(block("a", "two", "acme")), &store);
        assert_eq!(index.count(Some("a"), "acme"), 0);
        assert!(index.by_named.lock().is_empty(), "no empty map is kept");
    }

    #[test]
    fn many_blocks_of_one_customer_are_held_as_a_set_and_found_all() {
        let index = Referrers::new(customer_of);
        let store = Writer::<OCNumberBlock>::default().as_reader();
        let count = FEW * 3;
        for i in 0..count {
            index.observed(
                &watcher::Event::Apply(block("a", &format!("b{i}"), "acme")),
                &store,
            );
        }
        index.observed(&watcher::Event::Apply(block("a", "b0", "acme")), &store);
        assert!(matches!(
            index.by_named.lock()["a"]["acme"],
            Referring::Many(_)
        ));
        assert_eq!(index.count(Some("a"), "acme"), count);
        index.observed(&watcher::Event::Delete(block("a", "b1", "acme")), &store);
        let found = names(index.of(Some("a"), "acme"));
        assert_eq!(found.len(), count - 1);
        assert!(!found.contains(&"a/b1".to_owned()));
    }

    #[test]
    fn a_new_listing_rebuilds_the_index_from_the_cache() {
        let index = Referrers::new(customer_of);
        let mut writer = Writer::<OCNumberBlock>::default();
        let store = writer.as_reader();
        // Deleted while the watch was down: the listing no longer has it.
        index.observed(&watcher::Event::Apply(block("a", "gone", "acme")), &store);
        for event in [
            watcher::Event::Init,
            watcher::Event::InitApply(block("a", "kept", "acme")),
            watcher::Event::InitDone,
        ] {
            writer.apply_watcher_event(&event);
            index.observed(&event, &store);
        }
        assert_eq!(names(index.of(Some("a"), "acme")), ["a/kept"]);
    }
}
