//! Numbers written as a spec writes them: contiguous runs as ranges, the rest one by
//! one, so that an imported block reads as a person would have declared it.

/// Runs at least this long become a range; shorter ones are listed.
pub const MIN_RANGE: u64 = 3;

/// What a block declares: single numbers, and ranges (first, last), each in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declared {
    pub numbers: Vec<String>,
    pub ranges: Vec<(String, String)>,
}

/// Splits E.164 numbers (`+` and digits) into ranges of at least [`MIN_RANGE`]
/// consecutive numbers and single numbers. Duplicates count once; the order of the
/// input does not matter, so the same numbers always give the same declaration.
pub fn declare(numbers: &[String]) -> Declared {
    let mut parsed: Vec<(usize, u64)> = numbers
        .iter()
        .filter_map(|n| {
            let digits = n.strip_prefix('+')?;
            Some((digits.len(), digits.parse().ok()?))
        })
        .collect();
    parsed.sort_unstable();
    parsed.dedup();
    let text = |(width, value): (usize, u64)| format!("+{value:0width$}");
    let mut declared = Declared::default();
    let mut run: Vec<(usize, u64)> = Vec::new();
    let close = |run: &mut Vec<(usize, u64)>, declared: &mut Declared| {
        if let (Some(first), Some(last)) = (run.first(), run.last()) {
            if run.len() as u64 >= MIN_RANGE {
                declared.ranges.push((text(*first), text(*last)));
            } else {
                declared.numbers.extend(run.iter().map(|n| text(*n)));
            }
        }
        run.clear();
    };
    for number in parsed {
        let follows = run
            .last()
            .is_some_and(|last| last.0 == number.0 && last.1 + 1 == number.1);
        if !follows {
            close(&mut run, &mut declared);
        }
        run.push(number);
    }
    close(&mut run, &mut declared);
    declared
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(numbers: &[&str]) -> Vec<String> {
        numbers.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn runs_become_ranges_and_the_rest_stays_listed() {
        /// (name, input, listed numbers, ranges).
        type Case<'a> = (
            &'a str,
            &'a [&'a str],
            &'a [&'a str],
            &'a [(&'a str, &'a str)],
        );
        let cases: &[Case] = &[
            ("nothing", &[], &[], &[]),
            ("one", &["+14255550100"], &["+14255550100"], &[]),
            (
                "two in a row stay listed",
                &["+14255550101", "+14255550100"],
                &["+14255550100", "+14255550101"],
                &[],
            ),
            (
                "three in a row are a range",
                &["+14255550102", "+14255550100", "+14255550101"],
                &[],
                &[("+14255550100", "+14255550102")],
            ),
            (
                "a range, a gap, a single, duplicates once",
                &[
                    "+14255550100",
                    "+14255550101",
                    "+14255550102",
                    "+14255550102",
                    "+14255550200",
                ],
                &["+14255550200"],
                &[("+14255550100", "+14255550102")],
            ),
            (
                "a run across a carry",
                &["+14255550099", "+14255550100", "+14255550101"],
                &[],
                &[("+14255550099", "+14255550101")],
            ),
            (
                "numbers of different lengths are not consecutive",
                &["+4930123", "+49301240", "+49301241"],
                &["+4930123", "+49301240", "+49301241"],
                &[],
            ),
        ];
        for (name, input, numbers, ranges) in cases {
            let declared = declare(&owned(input));
            assert_eq!(declared.numbers, owned(numbers), "{name}");
            assert_eq!(
                declared.ranges,
                ranges
                    .iter()
                    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                    .collect::<Vec<_>>(),
                "{name}"
            );
        }
    }
}
