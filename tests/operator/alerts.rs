//! The chart's alerting rules, checked by promtool (pinned in hack/promtool) and
//! unit-tested against series a live operator served: the operator runs a scenario,
//! its `/metrics` is scraped before and after things go wrong (refused credentials, a
//! failed task, a block left waiting), and the two scrapes become promtool's input
//! series (the first for 30 minutes, the second after). The alerts must fire with the
//! labels the operator really writes, and stay quiet where nothing is wrong. The rate
//! alerts (budget, unreachable platform) are fed the rates a live operator kept
//! between two scrapes a few seconds apart, sustained for 40 minutes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use liveplatform_sim::Seed;

use oc_operator::api::conditions::reason;
use oc_operator::api::{OCCustomer, OCNumberBlock};
use serde_json::{Value, json};

use crate::chart::render;
use crate::support::*;

/// `name{labels}` to value, for every sample line of a scrape.
fn samples(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(series, value)| (series.to_owned(), value.to_owned()))
        .collect()
}

/// The annotations of `alert` in `rules` with `labels` and `value` filled in, as
/// Prometheus renders them.
fn annotations(rules: &Value, alert: &str, labels: &[(&str, &str)], value: &str) -> Value {
    let rule = rules["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["alert"] == alert)
        .unwrap_or_else(|| panic!("no alert {alert}"));
    let mut out = serde_json::Map::new();
    for (key, text) in rule["annotations"].as_object().unwrap() {
        let mut text = text.as_str().unwrap().replace("{{ $value }}", value);
        for (name, v) in labels {
            text = text.replace(&format!("{{{{ $labels.{name} }}}}"), v);
        }
        out.insert(key.clone(), json!(text));
    }
    Value::Object(out)
}

#[tokio::test]
async fn the_alerts_fire_on_series_a_live_operator_serves() {
    let mut world = World::new("alerts").await;
    world.start().await;
    let addr = world.serve_admin().await;
    world.customer_ready().await;
    let before = samples(&scrape(addr).await);

    // Things go wrong: a task fails, a block waits for a customer that is not there,
    // and Entra refuses the platform's credentials.
    world
        .admin
        .set_faults(json!({"failNextTasks": 1}))
        .await
        .unwrap();
    world
        .block("users", "contoso", json!({"numbers": ["+14255550100"]}))
        .await;
    let until = |what: &'static str, seen: fn(&str) -> bool| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let text = scrape(addr).await;
            if text.lines().any(seen) {
                return text;
            }
            assert!(std::time::Instant::now() < deadline, "never {what}: {text}");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    };
    until("a failed task", |l| {
        l.starts_with("operatorconnect_task_outcomes_total") && l.contains("outcome=\"failed\"")
    })
    .await;
    world
        .block("orphans", "nobody", json!({"numbers": ["+14255550199"]}))
        .await;
    world
        .wait::<OCNumberBlock>("orphans", 30, "waiting", |b| {
            has_reason(b, "Ready", reason::WAITING_FOR_CUSTOMER)
        })
        .await;
    world.put_secret("wrong-secret").await;
    let after = samples(
        &until("a refused token request", |l| {
            l.contains("action=\"get_token\"") && l.contains("status=\"401\"")
        })
        .await,
    );

    let rules = chart_rules();
    // Input: every series of the two scrapes, the first for 30 minutes, then the second.
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    let input: Vec<Value> = names
        .iter()
        .map(|series| {
            // A counter the first scrape did not show had not counted yet: 0. A gauge
            // it did not show did not exist: no sample.
            let counter = is_counter(series);
            let first = match before.get(*series) {
                Some(v) => format!("{v}+0x29"),
                None if counter => "0+0x29".to_owned(),
                None => "_x29".to_owned(),
            };
            let second = after
                .get(*series)
                .map_or("_x59".to_owned(), |v| format!("{v}+0x59"));
            json!({"series": series, "values": format!("{first} {second}")})
        })
        .collect();
    let platform = world.platform();
    let p = platform.as_str();
    // The blocks not Ready in the second scrape (the one left waiting, the one whose
    // task failed), as the alert's summary counts them.
    let not_ready = after
        .iter()
        .find(|(series, _)| {
            series.starts_with("operatorconnect_objects{")
                && series.contains("kind=\"OCNumberBlock\"")
                && series.contains("ready=\"false\"")
        })
        .map(|(_, v)| v.clone())
        .expect("blocks not Ready");
    let alert = |eval: &str, name: &str, fired: Vec<(Vec<(&str, &str)>, &str)>| {
        alert_test(&rules, eval, name, fired)
    };
    promtool_test(
        &world,
        &rules,
        json!([{
            "interval": "1m",
            "input_series": input,
            "alert_rule_test": [
                alert("37m", "OperatorConnectCredentialsFailing", vec![(vec![("platform", p), ("severity", "critical")], "")]),
                alert("37m", "OperatorConnectTaskFailures", vec![(vec![("action", "upload_numbers"), ("severity", "warning")], "")]),
                alert("61m", "OperatorConnectObjectsNotReady", vec![(vec![("kind", "OCNumberBlock"), ("severity", "warning")], not_ready.as_str())]),
                // Nothing wrong here: quiet.
                alert("20m", "OperatorConnectObjectsNotReady", vec![]),
                alert("37m", "OperatorConnectPlatformUnreachable", vec![]),
                alert("37m", "OperatorConnectNoLeader", vec![]),
                alert("37m", "OperatorConnectBudgetNearlyExhausted", vec![]),
            ],
        }]),
    );
}

#[tokio::test]
async fn the_rate_alerts_fire_on_rates_a_live_operator_keeps_up() {
    let mut world = World::with_seed(
        "ratealerts",
        Seed {
            accept_any_tenant: true,
            task_delay_ms: 300,
            ..Seed::default()
        },
    )
    .await;
    // The operator's budget for this platform: 5 requests a second, burst 5.
    world.set_budget(5, 5).await;
    world.start().await;
    let addr = world.serve_admin().await;
    let sampled = || async move { samples(&scrape(addr).await) };
    let calls = |s: &BTreeMap<String, String>| -> f64 {
        s.iter()
            .filter(|(k, _)| k.starts_with("operatorconnect_platform_calls_total{"))
            .map(|(_, v)| v.parse::<f64>().unwrap())
            .sum()
    };

    // Twelve customers onboard at once: more work than the budget lets through for
    // half a minute. Two scrapes a few seconds apart while it queues give the rate
    // the operator keeps.
    for i in 0..12 {
        let tenant = uuid::Uuid::new_v4().to_string();
        world
            .customer(&format!("c{i}"), &tenant, &format!("tenant{i}"), json!({}))
            .await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while calls(&sampled().await) < 20.0 {
        assert!(Instant::now() < deadline, "the onboarding never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (busy_from, busy_at) = (sampled().await, Instant::now());
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (busy_to, busy_secs) = (sampled().await, busy_at.elapsed().as_secs_f64());
    let ready = world
        .api::<OCCustomer>()
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|c| is_ready(*c))
        .count();
    assert!(ready < 12, "the onboarding ended before the second scrape");

    // Then the platform answers every call with a server error.
    world
        .admin
        .set_faults(json!({"serverErrorRate": 1.0}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (down_from, down_at) = (sampled().await, Instant::now());
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (down_to, down_secs) = (sampled().await, down_at.elapsed().as_secs_f64());
    world.admin.set_faults(json!({})).await.unwrap();

    let rules = chart_rules();
    let platform = world.platform();
    let p = platform.as_str();
    promtool_test(
        &world,
        &rules,
        json!([
            {
                "interval": "1m",
                "input_series": sustained(&busy_from, &busy_to, busy_secs),
                "alert_rule_test": [
                    alert_test(&rules, "10m", "OperatorConnectBudgetNearlyExhausted", vec![]),
                    alert_test(&rules, "25m", "OperatorConnectBudgetNearlyExhausted", vec![(vec![("platform", p), ("severity", "info")], "")]),
                    alert_test(&rules, "25m", "OperatorConnectPlatformUnreachable", vec![]),
                ],
            },
            {
                "interval": "1m",
                "input_series": sustained(&down_from, &down_to, down_secs),
                "alert_rule_test": [
                    alert_test(&rules, "25m", "OperatorConnectPlatformUnreachable", vec![(vec![("platform", p), ("severity", "critical")], "1")]),
                ],
            },
        ]),
    );
}

/// Whether a series is a counter (or a histogram's, which count too).
fn is_counter(series: &str) -> bool {
    let name = series.split('{').next().unwrap_or_default();
    ["_total", "_bucket", "_count", "_sum"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// Input series for 40 minutes in which the operator keeps up what two scrapes
/// `seconds` apart showed: counters grow at the rate seen between them, gauges hold
/// the second scrape's value.
fn sustained(
    first: &BTreeMap<String, String>,
    second: &BTreeMap<String, String>,
    seconds: f64,
) -> Vec<Value> {
    second
        .iter()
        .filter_map(|(series, to)| {
            let to: f64 = to.parse().ok()?;
            let values = if is_counter(series) {
                let from: f64 = first
                    .get(series)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0.0);
                format!("{from}+{}x40", (to - from) / seconds * 60.0)
            } else {
                format!("{to}+0x40")
            };
            Some(json!({"series": series, "values": values}))
        })
        .collect()
}

/// The alerting rules exactly as the chart renders them (`{"groups": [...]}`).
fn chart_rules() -> Value {
    let rendered = render("oc", "ops", &["prometheusRule.enabled=true"]);
    let rule = rendered
        .iter()
        .find(|o| o["kind"] == "PrometheusRule")
        .expect("a PrometheusRule");
    json!({"groups": rule["spec"]["groups"]})
}

/// One promtool alert test: at `eval`, `name` fires once for each (labels, value) of
/// `fired` (none: it stays quiet), with the annotations Prometheus renders.
fn alert_test(
    rules: &Value,
    eval: &str,
    name: &str,
    fired: Vec<(Vec<(&str, &str)>, &str)>,
) -> Value {
    let exp: Vec<Value> = fired
        .into_iter()
        .map(|(labels, value)| {
            let annotations = annotations(rules, name, &labels, value);
            let labels: serde_json::Map<String, Value> = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect();
            json!({"exp_labels": labels, "exp_annotations": annotations})
        })
        .collect();
    json!({"eval_time": eval, "alertname": name, "exp_alerts": exp})
}

/// Checks `rules` with `promtool check rules`, then runs `promtool test rules` with
/// the test groups `tests` (evaluated every minute).
fn promtool_test(world: &World, rules: &Value, tests: Value) {
    let dir = std::env::temp_dir().join(format!("oc-alerts-{}", world.ns));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("rules.yaml"),
        serde_yaml_ng::to_string(rules).unwrap(),
    )
    .unwrap();
    let tests = json!({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": tests,
    });
    std::fs::write(
        dir.join("tests.yaml"),
        serde_yaml_ng::to_string(&tests).unwrap(),
    )
    .unwrap();
    let promtool = plane().binary("promtool");
    for args in [
        vec!["check", "rules", "rules.yaml"],
        vec!["test", "rules", "tests.yaml"],
    ] {
        let output = std::process::Command::new(&promtool)
            .args(&args)
            .current_dir(&dir)
            .output()
            .expect("promtool (hack/build-test-tools.sh)");
        assert!(
            output.status.success(),
            "promtool {args:?}:\n{}{}\n(files in {})",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            dir.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
