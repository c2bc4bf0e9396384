//! Sets of E.164 numbers: expanding a block's spec, and compressing sets into ranges
//! (`+14255550100-+14255550199`) for status.

use std::collections::BTreeSet;

use crate::api::number_block::OCNumberBlockSpec;

/// Every number a block declares (list and ranges).
pub fn declared(spec: &OCNumberBlockSpec) -> BTreeSet<String> {
    let mut set: BTreeSet<String> = spec.numbers.iter().map(|n| n.0.clone()).collect();
    for range in &spec.ranges {
        set.extend(expand(&range.start, &range.end));
    }
    set
}

/// How far past its first number a declared range may reach: longer ranges expand
/// to nothing (see [`expand`]).
const SPEC_RANGE_SPAN: u64 = 100_000;

/// Whether `spec` declares `number` (in its list or its ranges), without expanding
/// the ranges.
pub fn declares(spec: &OCNumberBlockSpec, number: &str) -> bool {
    spec.numbers.iter().any(|n| n.0 == number)
        || spec
            .ranges
            .iter()
            .any(|range| range_holds(&range.start, &range.end, number, SPEC_RANGE_SPAN))
}

/// Whether `start..=end` holds `number` (of the same length, the range spanning at
/// most `max_span` after its first number), without expanding it.
fn range_holds(start: &str, end: &str, number: &str, max_span: u64) -> bool {
    let digits = |n: &str| n.strip_prefix('+').and_then(|d| d.parse::<u64>().ok());
    let (Some(x), Some(y), Some(n)) = (digits(start), digits(end), digits(number)) else {
        return false;
    };
    start.len() == end.len() && number.len() == start.len() && x <= n && n <= y && y - x <= max_span
}

/// `start..=end` (same length, digits after `+`) of a declared range; empty when
/// malformed or longer than a declared range may be.
pub fn expand(start: &str, end: &str) -> Vec<String> {
    expand_within(start, end, SPEC_RANGE_SPAN)
}

/// `start..=end`, spanning at most `max_span` after its first number; empty when
/// malformed or longer.
fn expand_within(start: &str, end: &str, max_span: u64) -> Vec<String> {
    let (Some(a), Some(b)) = (start.strip_prefix('+'), end.strip_prefix('+')) else {
        return Vec::new();
    };
    if a.len() != b.len() {
        return Vec::new();
    }
    let (Ok(x), Ok(y)) = (a.parse::<u64>(), b.parse::<u64>()) else {
        return Vec::new();
    };
    if x > y || y - x > max_span {
        return Vec::new();
    }
    let width = a.len();
    (x..=y).map(|n| format!("+{n:0width$}")).collect()
}

/// Runs of consecutive numbers of the same length, as `a-b` (or `a` alone).
pub fn compress<'a>(numbers: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut sorted: Vec<(usize, u64, &str)> = numbers
        .into_iter()
        .filter_map(|n| {
            n.strip_prefix('+')
                .and_then(|d| d.parse::<u64>().ok().map(|v| (d.len(), v, n.as_str())))
        })
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len()
            && sorted[j + 1].0 == sorted[i].0
            && sorted[j + 1].1 == sorted[j].1 + 1
        {
            j += 1;
        }
        if i == j {
            out.push(sorted[i].2.to_owned());
        } else {
            out.push(format!("{}-{}", sorted[i].2, sorted[j].2));
        }
        i = j + 1;
    }
    out
}

/// Whether ranges as [`compress`] writes them hold `number`, without expanding them
/// (as [`decompress`] would).
pub fn in_ranges(ranges: &[String], number: &str) -> bool {
    ranges.iter().any(|r| match r.split_once("-+") {
        Some((start, end)) => range_holds(start, &format!("+{end}"), number, u64::MAX),
        None => r == number,
    })
}

/// The inverse of [`compress`].
pub fn decompress(ranges: &[String]) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for r in ranges {
        match r.split_once("-+") {
            // A run of adjacent declared ranges may be longer than any one of them.
            Some((a, b)) => set.extend(expand_within(a, &format!("+{b}"), u64::MAX)),
            None => {
                set.insert(r.clone());
            }
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_longer_than_a_declared_range_comes_back_whole() {
        // Two adjacent declared ranges of 100,001 numbers each compress into one run.
        let mut numbers = expand("+14250000000", "+14250100000");
        numbers.extend(expand("+14250100001", "+14250200001"));
        let ranges = compress(numbers.iter());
        assert_eq!(ranges, ["+14250000000-+14250200001"]);
        assert_eq!(decompress(&ranges).len(), numbers.len());
    }

    #[test]
    fn in_ranges_agrees_with_the_expanded_set() {
        let ranges = compress(
            [
                "+14255550100",
                "+14255550101",
                "+14255550102",
                "+14255550200",
                "+1425555030",
            ]
            .iter()
            .map(|n| (*n).to_owned())
            .collect::<Vec<_>>()
            .iter(),
        );
        let expanded = decompress(&ranges);
        for number in [
            "+14255550099",
            "+14255550100",
            "+14255550101",
            "+14255550102",
            "+14255550103",
            "+14255550200",
            "+1425555030",
            "+14255550300",
            "+1425555020",
        ] {
            assert_eq!(
                in_ranges(&ranges, number),
                expanded.contains(number),
                "{number} in {ranges:?}"
            );
        }
    }

    #[test]
    fn declares_agrees_with_the_expanded_set() {
        let spec: OCNumberBlockSpec = serde_json::from_value(serde_json::json!({
            "customerRef": {"name": "c"}, "callingProfileId": "p", "usage": "CallingUserAssignment",
            "numbers": ["+14255550001"],
            "ranges": [{"start": "+14255551000", "end": "+14255551099"}, {"start": "+1425", "end": "+14255"}],
        }))
        .expect("a valid spec");
        let all = declared(&spec);
        for n in [
            "+14255550001",
            "+14255551000",
            "+14255551050",
            "+14255551099",
            "+14255551100",
            "+14255550999",
            "+1425555100",
            "+142555510000",
            "+1425",
            "14255551050",
        ] {
            assert_eq!(declares(&spec, n), all.contains(n), "{n}");
        }
    }

    #[test]
    fn compress_and_back() {
        let set: BTreeSet<String> = [
            "+14255550100",
            "+14255550101",
            "+14255550102",
            "+14255550200",
            "+442071234567",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let ranges = compress(&set);
        assert_eq!(
            ranges,
            vec!["+14255550100-+14255550102", "+14255550200", "+442071234567"]
        );
        assert_eq!(decompress(&ranges), set);
    }

    #[test]
    fn expand_keeps_leading_digits() {
        assert_eq!(expand("+14255550098", "+14255550101").len(), 4);
        assert!(expand("+1425", "+14255").is_empty());
        assert!(expand("+2", "+1").is_empty());
    }
}
