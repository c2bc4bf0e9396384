//! Sets of E.164 numbers held as sorted ranges: a block of 505,000 numbers declared as
//! 50 ranges costs 50 ranges, not 505,000 strings. Status writes them as ranges
//! (`+14255550100-+14255550199`) and reads them back the same way.
//!
//! A number is held as one integer that keeps its length: `+0123` and `+123` are
//! different numbers, and consecutive numbers of one length are consecutive integers,
//! so a range of numbers is a range of integers (see [`key`]).

use std::fmt;

use range_set_blaze::RangeSetBlaze;

use crate::api::number_block::OCNumberBlockSpec;

/// How far past its first number a declared range may reach: longer ranges declare
/// nothing (the CRD refuses them; this keeps a manifest that slipped through from
/// declaring a continent).
const SPEC_RANGE_SPAN: u64 = 100_000;

/// The most digits an E.164 number has.
const MAX_DIGITS: usize = 15;

/// Bits of a key that hold the digits' value (10^15 < 2^50); the length goes above.
const VALUE_BITS: u32 = 50;

/// The integer that stands for `number` (`+` and 1 to 15 digits): its length above
/// its value. `None` for anything else.
fn key(number: &str) -> Option<u64> {
    let digits = number.strip_prefix('+')?;
    if digits.is_empty() || digits.len() > MAX_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    Some(((digits.len() as u64) << VALUE_BITS) | value)
}

/// The number `key` stands for.
fn number(key: u64) -> String {
    let width = (key >> VALUE_BITS) as usize;
    let value = key & ((1 << VALUE_BITS) - 1);
    format!("+{value:0width$}")
}

/// `start..=end` as keys: both numbers of one length, `start <= end`, spanning at most
/// `max_span` after `start`.
fn key_range(start: &str, end: &str, max_span: u64) -> Option<(u64, u64)> {
    let (a, b) = (key(start)?, key(end)?);
    (a >> VALUE_BITS == b >> VALUE_BITS && a <= b && b - a <= max_span).then_some((a, b))
}

/// A set of numbers, as sorted ranges.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NumberSet(RangeSetBlaze<u64>);

impl NumberSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every number a block declares (its list and its ranges).
    pub fn declared(spec: &OCNumberBlockSpec) -> Self {
        let mut set: NumberSet = spec.numbers.iter().map(|n| n.0.as_str()).collect();
        for range in &spec.ranges {
            if let Some((a, b)) = key_range(&range.start, &range.end, SPEC_RANGE_SPAN) {
                set.0.ranges_insert(a..=b);
            }
        }
        set
    }

    /// Numbers as [`NumberSet::to_ranges`] writes them (`a-b` or `a` alone).
    pub fn from_ranges<S: AsRef<str>>(ranges: &[S]) -> Self {
        let mut set = NumberSet::new();
        for r in ranges {
            let r = r.as_ref();
            match r.split_once("-+") {
                Some((a, b)) => {
                    // A run of adjacent declared ranges may be longer than any one.
                    if let Some((a, b)) = key_range(a, &format!("+{b}"), u64::MAX) {
                        set.0.ranges_insert(a..=b);
                    }
                }
                None => {
                    set.insert(r);
                }
            }
        }
        set
    }

    /// The runs of consecutive numbers, as `a-b` (or `a` alone).
    pub fn to_ranges(&self) -> Vec<String> {
        self.0
            .ranges()
            .map(|r| {
                if r.start() == r.end() {
                    number(*r.start())
                } else {
                    format!("{}-{}", number(*r.start()), number(*r.end()))
                }
            })
            .collect()
    }

    /// Adds `number`; false when it is not a number or was there already.
    pub fn insert(&mut self, number: &str) -> bool {
        key(number).is_some_and(|k| self.0.insert(k))
    }

    pub fn remove(&mut self, number: &str) -> bool {
        key(number).is_some_and(|k| self.0.remove(k))
    }

    pub fn contains(&self, number: &str) -> bool {
        key(number).is_some_and(|k| self.0.contains(k))
    }

    /// How many numbers (saturating at `usize::MAX`).
    pub fn len(&self) -> usize {
        usize::try_from(self.0.len()).unwrap_or(usize::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many runs it holds: what it costs.
    pub fn runs(&self) -> usize {
        self.0.ranges_len()
    }

    /// Every number, in order (each formatted as it comes).
    pub fn iter(&self) -> impl Iterator<Item = String> + '_ {
        self.0.iter().map(number)
    }

    /// The first `n` numbers, in order.
    pub fn first(&self, n: usize) -> Vec<String> {
        self.iter().take(n).collect()
    }

    pub fn union(&self, other: &Self) -> Self {
        NumberSet(&self.0 | &other.0)
    }

    pub fn intersection(&self, other: &Self) -> Self {
        NumberSet(&self.0 & &other.0)
    }

    pub fn difference(&self, other: &Self) -> Self {
        NumberSet(&self.0 - &other.0)
    }

    pub fn is_disjoint(&self, other: &Self) -> bool {
        self.0.is_disjoint(&other.0)
    }

    pub fn is_subset(&self, other: &Self) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Adds every number of `other`.
    pub fn add(&mut self, other: &Self) {
        self.0 |= &other.0;
    }

    /// Takes away every number of `other`.
    pub fn subtract(&mut self, other: &Self) {
        if !self.is_disjoint(other) {
            self.0 = &self.0 - &other.0;
        }
    }

    /// The runs as integer ranges, for an index over many sets (see `ownership`).
    pub fn key_ranges(&self) -> impl Iterator<Item = std::ops::RangeInclusive<u64>> + '_ {
        self.0.ranges()
    }
}

impl<S: AsRef<str>> FromIterator<S> for NumberSet {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        NumberSet(iter.into_iter().filter_map(|n| key(n.as_ref())).collect())
    }
}

/// As ranges, joined: `+14255550100-+14255550102, +14255550200`.
impl fmt::Display for NumberSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_ranges().join(", "))
    }
}

impl fmt::Debug for NumberSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NumberSet[{self}]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(numbers: &[&str]) -> NumberSet {
        numbers.iter().collect()
    }

    #[test]
    fn a_run_longer_than_a_declared_range_comes_back_whole() {
        let spec: OCNumberBlockSpec = serde_json::from_value(serde_json::json!({
            "customerRef": {"name": "c"}, "callingProfileId": "p", "usage": "CallingUserAssignment",
            "ranges": [
                {"start": "+14250000000", "end": "+14250100000"},
                {"start": "+14250100001", "end": "+14250200001"},
            ],
        }))
        .expect("a valid spec");
        let numbers = NumberSet::declared(&spec);
        let ranges = numbers.to_ranges();
        assert_eq!(ranges, ["+14250000000-+14250200001"]);
        assert_eq!(NumberSet::from_ranges(&ranges).len(), 200_002);
        assert_eq!(NumberSet::from_ranges(&ranges), numbers);
    }

    #[test]
    fn declared_holds_the_list_and_the_ranges_but_no_overlong_or_malformed_range() {
        let spec: OCNumberBlockSpec = serde_json::from_value(serde_json::json!({
            "customerRef": {"name": "c"}, "callingProfileId": "p", "usage": "CallingUserAssignment",
            "numbers": ["+14255550001"],
            "ranges": [
                {"start": "+14255551000", "end": "+14255551099"},
                {"start": "+1425", "end": "+14255"},
                {"start": "+2", "end": "+1"},
                {"start": "+14250000000", "end": "+14250100001"},
            ],
        }))
        .expect("a valid spec");
        let all = NumberSet::declared(&spec);
        assert_eq!(all.len(), 101);
        for (n, held) in [
            ("+14255550001", true),
            ("+14255551000", true),
            ("+14255551050", true),
            ("+14255551099", true),
            ("+14255551100", false),
            ("+14255550999", false),
            ("+1425555100", false),
            ("+142555510000", false),
            ("+1425", false),
            ("+14250000000", false),
            ("14255551050", false),
        ] {
            assert_eq!(all.contains(n), held, "{n}");
        }
    }

    #[test]
    fn numbers_of_different_lengths_never_run_together() {
        let numbers = set(&["+99", "+100", "+0100", "+0101", "+101"]);
        assert_eq!(numbers.to_ranges(), ["+99", "+100-+101", "+0100-+0101"]);
        assert!(numbers.contains("+0100") && !numbers.contains("+98"));
        assert_eq!(NumberSet::from_ranges(&numbers.to_ranges()), numbers);
        // A run whose ends differ in length is no run.
        assert!(NumberSet::from_ranges(&["+99-+100"]).is_empty());
    }

    #[test]
    fn set_operations_agree_with_the_numbers() {
        let a = set(&[
            "+14255550100",
            "+14255550101",
            "+14255550102",
            "+442071234567",
        ]);
        let b = set(&["+14255550101", "+442071234567", "+14255550200"]);
        assert_eq!(a.union(&b).len(), 5);
        assert_eq!(
            a.intersection(&b).to_ranges(),
            ["+14255550101", "+442071234567"]
        );
        assert_eq!(
            a.difference(&b).to_ranges(),
            ["+14255550100", "+14255550102"]
        );
        let mut c = a.clone();
        c.subtract(&b);
        c.add(&set(&["+14255550101"]));
        assert_eq!(c.to_ranges(), ["+14255550100-+14255550102"]);
        assert_eq!(c.first(2), ["+14255550100", "+14255550101"]);
        assert!(!a.is_disjoint(&b) && c.is_disjoint(&set(&["+14255550103"])));
        assert!(set(&["+14255550101"]).is_subset(&a));
    }

    #[test]
    fn what_is_not_a_number_is_not_held() {
        let mut s = NumberSet::new();
        for bad in [
            "",
            "+",
            "14255550100",
            "+1425555010a",
            "+1234567890123456",
            "+-1",
        ] {
            assert!(!s.insert(bad), "{bad:?}");
        }
        assert!(s.is_empty());
        assert!(s.insert("+123456789012345"));
        assert_eq!(s.iter().collect::<Vec<_>>(), ["+123456789012345"]);
    }

    #[test]
    fn half_a_million_numbers_cost_their_ranges() {
        let ranges: Vec<String> = (0..50u64)
            .map(|i| {
                let start = 14_250_000_000 + i * 20_000;
                format!("+{start}-+{}", start + 9_999)
            })
            .collect();
        let numbers = NumberSet::from_ranges(&ranges);
        assert_eq!((numbers.len(), numbers.runs()), (500_000, 50));
        assert_eq!(numbers.to_ranges(), ranges);
    }
}
