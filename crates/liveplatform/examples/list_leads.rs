//! The client on its own, without Kubernetes: list a service provider's leads and
//! customers.
//!
//!   OC_BASE_URL=https://<host>/tenantui/api OC_IDENTITY_BASE=https://login.microsoftonline.com \
//!   OC_SP_TENANT=<your Entra tenant id> OC_CLIENT_ID=<app id> OC_CLIENT_SECRET=<secret> \
//!   cargo run -p liveplatform --example list_leads
//!
//! Against the simulator (`cargo run -p liveplatform-sim`), its README values work:
//! base `http://127.0.0.1:8080/tenantui/api`, identity `http://127.0.0.1:8080`.

use liveplatform::model::LeadQuery;
use liveplatform::secret::Secret;
use liveplatform::{ClientConfig, Credentials, LivePlatformClient};

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let base = url::Url::parse(&var("OC_BASE_URL")?).map_err(|e| e.to_string())?;
    let credentials =
        Credentials::with_secret(var("OC_CLIENT_ID")?, Secret::new(var("OC_CLIENT_SECRET")?));
    let mut config =
        ClientConfig::new(base, var("OC_SP_TENANT")?, credentials).map_err(|e| e.to_string())?;
    if let Ok(identity) = var("OC_IDENTITY_BASE") {
        config.identity_base = url::Url::parse(&identity).map_err(|e| e.to_string())?;
    }
    // The client keeps to the platform's budget (20 requests a second, burst 40, by
    // default), retries what is safe to retry, and never repeats a write blindly.
    let client = LivePlatformClient::new(config).map_err(|e| e.to_string())?;
    for lead in client
        .list_leads(&LeadQuery::default())
        .await
        .map_err(|e| e.to_string())?
    {
        println!(
            "lead {} tenant {} {} customer {}",
            lead.id,
            lead.tenant_id,
            lead.status,
            lead.ump_customer_guid.as_deref().unwrap_or("-")
        );
    }
    for customer in client
        .list_customers_brief()
        .await
        .map_err(|e| e.to_string())?
    {
        println!(
            "customer {} {}",
            customer.id,
            customer.full_name.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
