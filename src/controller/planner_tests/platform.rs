//! Every step of the `OCPlatform` planner, in-process.

use super::{Case, expect_all};
use crate::api::platform::OCPlatformStatus;
use crate::controller::plan::Step as S;
use crate::controller::platform::{Look, Seen, Step, plan, publish};
use liveplatform::model::{CallingProfile, Sbc, SbcMapping, Trunk};

const NOW: &str = "2026-11-27T12:00:00Z";

fn sbc(id: &str) -> Sbc {
    Sbc {
        sbc_id: Some(id.into()),
        ..Sbc::default()
    }
}

fn profiles() -> Vec<CallingProfile> {
    vec![CallingProfile {
        calling_profile_id: "CP-1".into(),
        trunks_enrolled: vec![Trunk {
            trunk_fqdn: Some("trunk.example".into()),
            matching_sbc_list: vec![sbc("sbc-1")],
        }],
        ..CallingProfile::default()
    }]
}

fn mapping() -> Vec<SbcMapping> {
    vec![SbcMapping {
        calling_profile_id: "cp-1".into(),
        sbcs: vec![sbc("sbc-1"), sbc("sbc-2")],
    }]
}

fn everything() -> Seen {
    Seen {
        credentials: true,
        leads: true,
        customers: Some(3),
        profiles: Some(profiles()),
        mapping: Some(mapping()),
    }
}

fn published(probed_at: &str) -> OCPlatformStatus {
    OCPlatformStatus {
        calling_profiles: publish(&profiles(), &mapping()),
        calling_profile_count: Some(1),
        customer_count: Some(3),
        last_probe_time: Some(probed_at.into()),
        ..OCPlatformStatus::default()
    }
}

fn step(status: &OCPlatformStatus, seen: Seen) -> Step {
    plan(status, &seen, NOW.parse().expect("a time"))
}

#[test]
fn every_step_of_a_platform() {
    let none = OCPlatformStatus::default();
    let cases: Vec<Case<Step>> = vec![
        (
            "the credentials are proven first",
            step(&none, Seen::default()),
            |s| *s == S::Look(Look::Credentials),
        ),
        (
            "then the lead API is probed",
            step(
                &none,
                Seen {
                    credentials: true,
                    ..Seen::default()
                },
            ),
            |s| *s == S::Look(Look::Leads),
        ),
        (
            "then customers are counted",
            step(
                &none,
                Seen {
                    customers: None,
                    ..everything()
                },
            ),
            |s| *s == S::Look(Look::Customers),
        ),
        (
            "then calling profiles are read",
            step(
                &none,
                Seen {
                    profiles: None,
                    ..everything()
                },
            ),
            |s| *s == S::Look(Look::Profiles),
        ),
        (
            "and their SBCs",
            step(
                &none,
                Seen {
                    mapping: None,
                    ..everything()
                },
            ),
            |s| *s == S::Look(Look::Mapping),
        ),
        (
            "what the platform offers is published, SBCs from trunks and mapping once each",
            step(&none, everything()),
            |s| matches!(s, S::Settle(p) if p.customers == 3 && p.profiles[0].sbcs.iter().map(|s| s.id.as_str()).collect::<Vec<_>>() == ["sbc-1", "sbc-2"] && p.profiles[0].sbcs[0].trunk_fqdn.as_deref() == Some("trunk.example")),
        ),
        (
            "an old probe time is refreshed",
            step(&published("2026-11-27T11:00:00Z"), everything()),
            |s| matches!(s, S::Settle(p) if p.probed),
        ),
        (
            "a platform whose status is current is Ready, and its status does not change",
            step(&published("2026-11-27T11:59:00Z"), everything()),
            |s| matches!(s, S::Ready(r) if r.message.contains("offers 1 calling profiles")),
        ),
    ];
    expect_all(cases);
}
