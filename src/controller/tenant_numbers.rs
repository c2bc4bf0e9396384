//! A tenant's numbers as the platform lists them, held as sets of ranges by what the
//! blocks decide on: on the platform at all, active, uploading, releasing, assigned in
//! Teams. A listing of 505,000 numbers read page by page costs a few ranges per state,
//! not a record per number; the rest of a record (calling profile, capabilities, ...)
//! no block decides on.
//!
//! The operator's own writes are applied to it as they are accepted and as their
//! tasks end (see `numbers`), so it says what the platform will list.

use liveplatform::model::NumberRecord;

use super::number_set::NumberSet;
use crate::api::common::WriteAction;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantNumbers {
    /// Every number the platform lists for the tenant, whatever its state.
    listed: NumberSet,
    /// Acquired, with no operation running on it.
    active: NumberSet,
    /// Its upload is running.
    uploading: NumberSet,
    /// Its release is running.
    releasing: NumberSet,
    /// Held by a Teams user, conference or app.
    assigned: NumberSet,
}

impl TenantNumbers {
    /// Adds one page of a listing. A record whose number is no E.164 number is left
    /// out: no block can declare it.
    pub fn add_page(&mut self, records: impl IntoIterator<Item = NumberRecord>) {
        for record in records {
            let number = record.telephone_number.as_str();
            if !self.listed.insert(number) {
                continue;
            }
            let status = record.acquired_number_status.as_str();
            if record.is_active() {
                self.active.insert(number);
            } else if status.eq_ignore_ascii_case(NumberRecord::UPLOAD_REQUESTED) {
                self.uploading.insert(number);
            } else if status.eq_ignore_ascii_case(NumberRecord::RELEASE_REQUESTED) {
                self.releasing.insert(number);
            }
            if record.is_assigned() {
                self.assigned.insert(number);
            }
        }
    }

    /// A block's own numbers, as its status knows them (see
    /// `number_block::own_view_serves`): active and in no Teams assignment.
    pub fn own(numbers: NumberSet) -> Self {
        TenantNumbers {
            listed: numbers.clone(),
            active: numbers,
            ..TenantNumbers::default()
        }
    }

    pub fn listed(&self) -> &NumberSet {
        &self.listed
    }

    pub fn active(&self) -> &NumberSet {
        &self.active
    }

    pub fn uploading(&self) -> &NumberSet {
        &self.uploading
    }

    pub fn releasing(&self) -> &NumberSet {
        &self.releasing
    }

    pub fn assigned(&self) -> &NumberSet {
        &self.assigned
    }

    /// How many runs it holds in all: what it costs.
    pub fn runs(&self) -> usize {
        [
            &self.listed,
            &self.active,
            &self.uploading,
            &self.releasing,
            &self.assigned,
        ]
        .iter()
        .map(|s| s.runs())
        .sum()
    }

    /// Leaves `numbers` in no running state.
    fn clear_state(&mut self, numbers: &NumberSet) {
        self.active.subtract(numbers);
        self.uploading.subtract(numbers);
        self.releasing.subtract(numbers);
    }

    /// What a write the platform accepted does at once: uploaded numbers appear as
    /// uploading (numbers already listed stay as they are), released ones turn
    /// releasing; an unassign shows at its end.
    pub fn accepted(&mut self, action: WriteAction, numbers: &NumberSet) {
        match action {
            WriteAction::UploadNumbers => {
                let new = numbers.difference(&self.listed);
                self.listed.add(&new);
                self.uploading.add(&new);
            }
            WriteAction::ReleaseNumbers => {
                let released = numbers.intersection(&self.listed);
                self.clear_state(&released);
                self.releasing.add(&released);
            }
            _ => {}
        }
    }

    /// What a write's task did when it ended, `failed` being the numbers it reports
    /// as failed: uploaded numbers are active (failed ones are not on the platform),
    /// released ones are gone (failed ones stay active), unassigned ones are
    /// unassigned.
    pub fn ended(&mut self, action: WriteAction, numbers: &NumberSet, failed: &NumberSet) {
        let succeeded = numbers.difference(failed);
        match action {
            WriteAction::UploadNumbers => {
                let refused = numbers.intersection(failed);
                self.remove(&refused);
                let uploaded = succeeded.intersection(&self.listed);
                self.clear_state(&uploaded);
                self.active.add(&uploaded);
            }
            WriteAction::ReleaseNumbers => {
                self.remove(&succeeded);
                let kept = numbers.intersection(failed).intersection(&self.listed);
                self.clear_state(&kept);
                self.active.add(&kept);
            }
            WriteAction::UnassignNumbers => self.assigned.subtract(&succeeded),
            _ => {}
        }
    }

    /// A Teams assignment that changed through another kind's write (an end user's
    /// line URI): `freed` is no longer assigned, `assigned` is. Numbers the listing
    /// does not hold stay out of it.
    pub fn assignment(&mut self, freed: Option<&str>, assigned: Option<&str>) {
        if let Some(n) = freed {
            self.assigned.remove(n);
        }
        if let Some(n) = assigned.filter(|n| self.listed.contains(n)) {
            self.assigned.insert(n);
        }
    }

    fn remove(&mut self, numbers: &NumberSet) {
        self.listed.subtract(numbers);
        self.clear_state(numbers);
        self.assigned.subtract(numbers);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A listed number with these statuses (also for the planner's tests).
    pub(crate) fn record(number: &str, status: &str, assignment: &str) -> NumberRecord {
        NumberRecord {
            telephone_number: number.into(),
            acquired_number_status: status.into(),
            assignment_status: assignment.into(),
            ..NumberRecord::default()
        }
    }

    fn set(numbers: &[&str]) -> NumberSet {
        numbers.iter().collect()
    }

    #[test]
    fn a_listing_is_held_by_state() {
        let mut t = TenantNumbers::default();
        t.add_page([
            record(
                "+14255550100",
                NumberRecord::ACTIVE,
                NumberRecord::UNASSIGNED,
            ),
            record(
                "+14255550101",
                NumberRecord::ACTIVE,
                NumberRecord::USER_ASSIGNED,
            ),
        ]);
        t.add_page([
            record("+14255550102", "upload requested", NumberRecord::UNASSIGNED),
            record("+14255550103", NumberRecord::RELEASE_REQUESTED, ""),
            record(
                "+14255550104",
                "Marked For Removal",
                NumberRecord::UNASSIGNED,
            ),
            record(
                "not a number",
                NumberRecord::ACTIVE,
                NumberRecord::UNASSIGNED,
            ),
        ]);
        assert_eq!(t.listed().to_ranges(), ["+14255550100-+14255550104"]);
        assert_eq!(t.active().to_ranges(), ["+14255550100-+14255550101"]);
        assert_eq!(t.uploading().to_ranges(), ["+14255550102"]);
        assert_eq!(t.releasing().to_ranges(), ["+14255550103"]);
        assert_eq!(t.assigned().to_ranges(), ["+14255550101"]);
    }

    #[test]
    fn an_upload_shows_as_uploading_then_active_but_for_its_failures() {
        let mut t = TenantNumbers::default();
        t.add_page([record(
            "+100",
            NumberRecord::ACTIVE,
            NumberRecord::UNASSIGNED,
        )]);
        let numbers = set(&["+100", "+101", "+102"]);
        t.accepted(WriteAction::UploadNumbers, &numbers);
        assert_eq!(t.uploading().to_ranges(), ["+101-+102"]);
        assert_eq!(t.active().to_ranges(), ["+100"]);
        t.ended(WriteAction::UploadNumbers, &numbers, &set(&["+102"]));
        assert_eq!(t.listed().to_ranges(), ["+100-+101"]);
        assert_eq!(t.active().to_ranges(), ["+100-+101"]);
        assert!(t.uploading().is_empty());
    }

    #[test]
    fn a_release_shows_as_releasing_then_gone_but_for_its_failures() {
        let mut t = TenantNumbers::default();
        t.add_page(
            ["+100", "+101", "+102"]
                .map(|n| record(n, NumberRecord::ACTIVE, NumberRecord::USER_ASSIGNED)),
        );
        let numbers = set(&["+101", "+102", "+103"]);
        t.accepted(WriteAction::ReleaseNumbers, &numbers);
        assert_eq!(t.releasing().to_ranges(), ["+101-+102"]);
        assert_eq!(t.active().to_ranges(), ["+100"]);
        t.ended(WriteAction::ReleaseNumbers, &numbers, &set(&["+102"]));
        assert_eq!(t.listed().to_ranges(), ["+100", "+102"]);
        assert_eq!(t.active().to_ranges(), ["+100", "+102"]);
        assert_eq!(t.assigned().to_ranges(), ["+100", "+102"]);
        assert!(t.releasing().is_empty());
    }

    #[test]
    fn an_unassign_and_a_line_uri_change_the_assignments() {
        let mut t = TenantNumbers::default();
        t.add_page(
            ["+100", "+101", "+102"]
                .map(|n| record(n, NumberRecord::ACTIVE, NumberRecord::USER_ASSIGNED)),
        );
        t.ended(
            WriteAction::UnassignNumbers,
            &set(&["+100", "+101"]),
            &set(&["+101"]),
        );
        assert_eq!(t.assigned().to_ranges(), ["+101-+102"]);
        t.assignment(Some("+101"), Some("+100"));
        t.assignment(None, Some("+999"));
        assert_eq!(t.assigned().to_ranges(), ["+100", "+102"]);
    }
}
