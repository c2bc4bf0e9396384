//! The one-command sandbox: a local control plane, the Live Platform simulator on the
//! address `examples/` points at, the operator, and `examples/` applied and waited for.

use std::process::Stdio;
use std::time::{Duration, Instant};

use kube::Resource;
use kube::api::Api;
use kube::core::NamespaceResourceScope;

use liveplatform_sim::{Faults, Seed, Simulator};
use oc_operator::api::conditions;
use oc_operator::api::{
    OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCPlatform, OCSipConnection,
};
use oc_operator::controller::kind::Kind;
use oc_operator::controller::{self, Context, OperatorConfig};
use testenv::ControlPlane;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    ControlPlane(#[from] testenv::Error),
    #[error("simulator on {addr}: {source} (is another sandbox running?)")]
    Simulator {
        addr: String,
        source: std::io::Error,
    },
    #[error("kubectl {what}: {detail}")]
    Kubectl { what: String, detail: String },
    #[error("not every example became Ready within {secs} s:\n{table}")]
    NotReady { secs: u64, table: String },
}

/// Where the simulator listens: the address `examples/10-platform.yaml` names.
pub const SIMULATOR_ADDR: &str = "127.0.0.1:8080";
const OPERATOR_NAMESPACE: &str = "oc-operator-system";

fn kubectl_text(plane: &ControlPlane, args: &[&str]) -> Result<String, Error> {
    let output = plane
        .kubectl()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Kubectl {
            what: args.join(" "),
            detail: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(Error::Kubectl {
            what: args.join(" "),
            detail: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

async fn all_ready<K>(client: &kube::Client) -> bool
where
    K: Kind + Resource<Scope = NamespaceResourceScope>,
{
    let api: Api<K> = Api::all(client.clone());
    match api.list(&Default::default()).await {
        Ok(list) => {
            !list.items.is_empty()
                && list.items.iter().all(|o| {
                    o.status().is_some_and(|s| {
                        conditions::is_true_for(
                            K::conditions(s),
                            conditions::READY,
                            o.meta().generation,
                        )
                    })
                })
        }
        Err(_) => false,
    }
}

/// Runs the sandbox until `shutdown` resolves.
pub async fn run(
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), Error> {
    eprintln!("sandbox: preparing the control plane binaries (the first run builds them)...");
    let bin = testenv::binaries()?;
    eprintln!("sandbox: starting etcd, kube-apiserver and kube-controller-manager...");
    let plane = ControlPlane::start(&bin)?;
    testenv::install_crds(|| plane.kubectl())?;

    let sim = Simulator::start(
        SIMULATOR_ADDR
            .parse()
            .unwrap_or_else(|_| unreachable!("constant address")),
        Seed::default(),
        Faults::default(),
    )
    .await
    .map_err(|source| Error::Simulator {
        addr: SIMULATOR_ADDR.into(),
        source,
    })?;
    eprintln!("sandbox: Live Platform simulator on {}", sim.base_url());

    let client = plane.client().await?;
    let ctx = Context::new(client.clone(), OperatorConfig::new(OPERATOR_NAMESPACE));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let operator = tokio::spawn(controller::run(ctx, async move {
        let _ = stop_rx.await;
    }));

    let examples = testenv::repository().join("examples");
    kubectl_text(&plane, &["apply", "-f", &examples.display().to_string()])?;
    eprintln!("sandbox: applied examples/; waiting until every object is Ready...");
    let limit = Duration::from_secs(300);
    let deadline = Instant::now() + limit;
    loop {
        let platform_ready = {
            let api: Api<OCPlatform> = Api::all(client.clone());
            api.list(&Default::default()).await.is_ok_and(|l| {
                l.items.iter().all(|p| {
                    p.status.as_ref().is_some_and(|s| {
                        conditions::is_true_for(
                            &s.reconcile.conditions,
                            conditions::READY,
                            p.metadata.generation,
                        )
                    })
                })
            })
        };
        let ready = platform_ready
            && all_ready::<OCCustomer>(&client).await
            && all_ready::<OCNumberBlock>(&client).await
            && all_ready::<OCSipConnection>(&client).await
            && all_ready::<OCDialPlan>(&client).await
            && all_ready::<OCEndUser>(&client).await;
        if ready {
            break;
        }
        if Instant::now() > deadline {
            let table = kubectl_text(&plane, &["get", "operatorconnect", "-A"]).unwrap_or_default();
            let _ = stop_tx.send(());
            let _ = operator.await;
            return Err(Error::NotReady {
                secs: limit.as_secs(),
                table,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    println!(
        "{}",
        kubectl_text(&plane, &["get", "operatorconnect", "-A"])?
    );
    println!("Every example is Ready. Use the sandbox with:");
    println!("  export KUBECONFIG={}", plane.kubeconfig().display());
    println!(
        "  export PATH={}:$PATH   # the sandbox's kubectl",
        bin.display()
    );
    println!("  kubectl get operatorconnect -A");
    println!("  kubectl describe occustomer contoso -n contoso");
    println!("  curl -s http://{SIMULATOR_ADDR}/admin/state   # what the simulated platform holds");
    println!("Press Ctrl-C to stop and clean up.");
    shutdown.await;
    eprintln!("sandbox: stopping...");
    let _ = stop_tx.send(());
    let _ = operator.await;
    sim.stop();
    drop(plane);
    Ok(())
}
