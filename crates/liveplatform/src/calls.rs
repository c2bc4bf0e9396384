//! One typed method for every action of the API reference (sections 2 to 10).

use serde_json::Value;

use super::action::Action;
use super::answer::{self, FromAnswer, decode, decode_leads, decode_list};
use super::client::{LivePlatformClient, Request, describe_transport};
use super::contract;
use super::error::{Error, Result};
use super::model::*;

impl LivePlatformClient {
    // ---- 2. tenant validation -------------------------------------------------

    /// Validate Tenant Id: asks Entra ID for the tenant's OpenID metadata.
    pub async fn validate_tenant(&self, tenant_id: &str) -> Result<TenantValidation> {
        let action = Action::ValidateTenant;
        let base = self.config().identity_base.as_str().trim_end_matches('/');
        let mut url =
            url::Url::parse(base).map_err(|e| Error::Config(format!("identity base: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| Error::Config("identity base cannot take a path".into()))?
            .pop_if_empty()
            .extend([tenant_id, ".well-known", "openid-configuration"]);
        let policy = self.config().retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = std::time::Instant::now();
            let outcome = match self.http().get(url.clone()).send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    self.observer()
                        .call(action, Some(status), started.elapsed());
                    match crate::body::read(response).await {
                        Ok(body) => Ok((status, answer::parse_body(&body))),
                        Err(crate::body::Unread::Transport(e)) => Err(Error::Transient {
                            action,
                            detail: describe_transport(&e),
                        }),
                        Err(unread) => Err(Error::AnswerTooLarge {
                            action,
                            detail: unread.describe(),
                        }),
                    }
                }
                Err(e) => {
                    self.observer().call(action, None, started.elapsed());
                    Err(Error::Transient {
                        action,
                        detail: describe_transport(&e),
                    })
                }
            };
            let result = match outcome {
                Ok((200, body)) => {
                    let issuer = body
                        .get("issuer")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    return Ok(TenantValidation::Valid { issuer });
                }
                Ok((400 | 404, body)) => {
                    let error = body
                        .get("error_description")
                        .or_else(|| body.get("error"))
                        .and_then(Value::as_str)
                        .unwrap_or("unknown tenant")
                        .to_owned();
                    return Ok(TenantValidation::Unknown { error });
                }
                Ok((status, body)) => {
                    answer::classify(action, status, None, body.to_string().as_bytes()).map(|_| ())
                }
                Err(e) => Err(e),
            };
            match result {
                Err(e) if e.is_transient() && attempt < policy.max_attempts => {
                    self.observer().retry(action);
                    tokio::time::sleep(
                        policy.backoff.delay_honouring(attempt - 1, e.retry_after()),
                    )
                    .await;
                }
                Err(e) => return Err(e),
                Ok(()) => {
                    return Err(Error::UnexpectedAnswer {
                        action,
                        detail: "unexpected status".into(),
                    });
                }
            }
        }
    }

    // ---- 3. leads -------------------------------------------------------------

    pub async fn create_lead(&self, body: &CreateLead) -> Result<Option<Lead>> {
        let action = Action::CreateLead;
        let value = self.send(Request::to(action, &[])?.json(body)?).await?;
        // 200 without a task [doc]; the body is the lead [chosen], tolerated if absent.
        match value {
            Value::Object(_) => decode(action, value).map(Some),
            _ => Ok(None),
        }
    }

    /// Get Specific OC Lead: the lead of a tenant, if there is one.
    pub async fn get_lead(&self, ms_tenant_id: &str) -> Result<Option<Lead>> {
        let action = Action::GetLead;
        let request = Request::to(action, &[])?.query("msTenantId", ms_tenant_id);
        let leads = match self.send(request).await {
            Ok(value) => decode_leads(action, value)?,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(leads
            .into_iter()
            .find(|l| l.tenant_id.eq_ignore_ascii_case(ms_tenant_id)))
    }

    /// Get All OC Leads, one page.
    pub async fn list_leads(&self, query: &LeadQuery) -> Result<Vec<Lead>> {
        let action = Action::ListLeads;
        let request = Request::to(action, &[])?
            .query_opt("msTenantId", query.ms_tenant_id.as_deref())
            .query_opt("PageNumber", query.page_number)
            .query_opt("PageSize", query.page_size)
            .query_opt("checkOnline", query.check_online);
        decode_leads(action, self.send(request).await?)
    }

    /// Delete Consentless Lead. A missing lead is [`Error::NotFound`].
    pub async fn delete_lead(&self, ms_tenant_id: &str) -> Result<Ack> {
        let request = Request::to(Action::DeleteLead, &[])?.query("msTenantId", ms_tenant_id);
        self.call(request).await
    }

    // ---- 4. channels ----------------------------------------------------------

    pub async fn assign_channel(&self, body: &AssignChannel) -> Result<ChannelAssigned> {
        self.call(Request::to(Action::AssignChannel, &[])?.json(body)?)
            .await
    }

    pub async fn remove_channel(&self, ms_tenant_id: &str) -> Result<ChannelRemoved> {
        let request = Request::to(Action::RemoveChannel, &[])?.query("msTenantId", ms_tenant_id);
        self.call(request).await
    }

    pub async fn create_channel(&self, body: &CreateChannel) -> Result<ChannelCreated> {
        self.call(Request::to(Action::CreateChannel, &[])?.json(body)?)
            .await
    }

    pub async fn get_channel(&self, id: i64) -> Result<Channel> {
        self.call(Request::to(Action::GetChannel, &[&id.to_string()])?)
            .await
    }

    // ---- 5. licences and customers -------------------------------------------

    /// Create Customer from Lead: the task whose output carries `umpCustomerGuid`.
    pub async fn create_customer(&self, body: &CreateCustomer) -> Result<TaskId> {
        self.call(Request::to(Action::CreateCustomer, &[])?.json(body)?)
            .await
    }

    /// Upgrade OC Customer License (from OC Essentials to 4 or 5): a task.
    pub async fn upgrade_license(&self, customer: &str, body: &LicenseChange) -> Result<TaskId> {
        self.call(Request::to(Action::UpgradeLicense, &[customer])?.json(body)?)
            .await
    }

    /// Upgrade or Downgrade License (between 4 and 5, or a new count).
    pub async fn change_license(&self, customer: &str, body: &LicenseChange) -> Result<Ack> {
        self.call(Request::to(Action::ChangeLicense, &[customer])?.json(body)?)
            .await
    }

    pub async fn license_info(&self, customer: &str, months: u32) -> Result<Vec<LicenseInfo>> {
        let request = Request::to(Action::GetLicenseInfo, &[customer])?.query("nrOfMonths", months);
        self.call(request).await
    }

    /// Get Services Brief (V3).
    pub async fn list_services(&self, all_details: bool) -> Result<Vec<Service>> {
        let request = Request::to(Action::ListServices, &[])?.query("allDetails", all_details);
        self.call(request).await
    }

    /// Get Customers Brief (V2).
    pub async fn list_customers_brief(&self) -> Result<Vec<CustomerBrief>> {
        self.call(Request::to(Action::ListCustomersBrief, &[])?)
            .await
    }

    /// Get Specific Customer; a missing customer is [`Error::NotFound`].
    pub async fn get_customer(&self, customer: &str, all_details: bool) -> Result<CustomerDetails> {
        let request =
            Request::to(Action::GetCustomer, &[customer])?.query("allDetails", all_details);
        self.call(request).await
    }

    /// Delete Service; also removes its site locations and dial plans [doc].
    pub async fn delete_service(&self, customer: &str) -> Result<Ack> {
        self.call(Request::to(Action::DeleteService, &[customer])?)
            .await
    }

    // ---- 6. numbers -----------------------------------------------------------

    pub async fn calling_profiles(&self) -> Result<Vec<CallingProfile>> {
        self.call(Request::to(Action::GetCallingProfiles, &[])?)
            .await
    }

    pub async fn sbc_mapping(&self) -> Result<Vec<SbcMapping>> {
        self.call(Request::to(Action::GetSbcMapping, &[])?).await
    }

    /// Validate Single Number (it takes a list). A read, though sent as POST.
    pub async fn validate_numbers(&self, body: &ValidateNumbers) -> Result<NumberValidation> {
        self.call(Request::to(Action::ValidateNumbers, &[])?.json(body)?)
            .await
    }

    pub async fn upload_numbers(&self, ms_tenant_id: &str, body: &UploadNumbers) -> Result<TaskId> {
        self.numbers_action(Action::UploadNumbers, ms_tenant_id, body)
            .await
    }

    pub async fn release_numbers(
        &self,
        ms_tenant_id: &str,
        body: &ReleaseNumbers,
    ) -> Result<TaskId> {
        self.numbers_action(Action::ReleaseNumbers, ms_tenant_id, body)
            .await
    }

    pub async fn unassign_numbers(
        &self,
        ms_tenant_id: &str,
        body: &UnassignNumbers,
    ) -> Result<TaskId> {
        self.numbers_action(Action::UnassignNumbers, ms_tenant_id, body)
            .await
    }

    async fn numbers_action(
        &self,
        action: Action,
        ms_tenant_id: &str,
        body: &impl serde::Serialize,
    ) -> Result<TaskId> {
        let request = Request::to(action, &[])?
            .query("msTenantId", ms_tenant_id)
            .json(body)?;
        self.call(request).await
    }

    /// Get Customer Numbers (V2): all numbers of a tenant.
    pub async fn numbers_v2(&self, ms_tenant_id: &str) -> Result<Vec<NumberRecord>> {
        let request = Request::to(Action::ListNumbersV2, &[])?.query("msTenantId", ms_tenant_id);
        self.call(request).await
    }

    /// Get Customer Numbers (V3), one page.
    pub async fn numbers_v3(
        &self,
        ms_tenant_id: &str,
        query: &NumbersQuery,
    ) -> Result<Page<NumberRecord>> {
        let request = Request::to(Action::ListNumbersV3, &[])?
            .query("msTenantId", ms_tenant_id)
            .query_opt(
                "acquiredNumberStatus",
                query.acquired_number_status.as_deref(),
            )
            .query_opt("PageNumber", query.page_number)
            .query_opt("PageSize", query.page_size);
        self.call(request).await
    }

    /// Every number of a tenant, paging through V3.
    pub async fn all_numbers(
        &self,
        ms_tenant_id: &str,
        page_size: u32,
    ) -> Result<Vec<NumberRecord>> {
        let mut all = Vec::new();
        self.each_numbers_page(ms_tenant_id, page_size, |page| all.extend(page))
            .await?;
        Ok(all)
    }

    /// Every number of a tenant, paging through V3, handed to `take` one page at a
    /// time: a caller that keeps less than the records holds one page at most.
    pub async fn each_numbers_page(
        &self,
        ms_tenant_id: &str,
        page_size: u32,
        mut take: impl FnMut(Vec<NumberRecord>),
    ) -> Result<()> {
        let mut page_number = 1;
        loop {
            let query = NumbersQuery {
                page_number: Some(page_number),
                page_size: Some(page_size),
                ..Default::default()
            };
            let page = self.numbers_v3(ms_tenant_id, &query).await?;
            let count = page.data.len();
            take(page.data);
            if count == 0 || i64::from(page_number) >= page.total_pages {
                return Ok(());
            }
            if page_number >= contract::MAX_LISTING_PAGES {
                return Err(Error::AnswerTooLarge {
                    action: Action::ListNumbersV3,
                    detail: format!(
                        "the listing of tenant {ms_tenant_id} goes on past {} pages ({} said); check that the OCPlatform's URL points at the Live Platform",
                        contract::MAX_LISTING_PAGES,
                        page.total_pages
                    ),
                });
            }
            page_number += 1;
        }
    }

    // ---- 7. SIP connections ---------------------------------------------------

    pub async fn add_sip_connection(
        &self,
        customer: &str,
        body: &AddSipConnection,
    ) -> Result<SipConnectionAdded> {
        self.call(Request::to(Action::AddSipConnection, &[customer])?.json(body)?)
            .await
    }

    pub async fn modify_sip_connection(
        &self,
        customer: &str,
        body: &ModifySipConnection,
    ) -> Result<TaskId> {
        self.call(Request::to(Action::ModifySipConnection, &[customer])?.json(body)?)
            .await
    }

    pub async fn get_sip_connection(&self, site_location_id: &str) -> Result<SipConnection> {
        self.call(Request::to(Action::GetSipConnection, &[site_location_id])?)
            .await
    }

    pub async fn delete_sip_connection(
        &self,
        site_location_id: &str,
    ) -> Result<SipConnectionDeleted> {
        self.call(Request::to(
            Action::DeleteSipConnection,
            &[site_location_id],
        )?)
        .await
    }

    // ---- 8. end users ---------------------------------------------------------

    pub async fn list_end_users(
        &self,
        customer: &str,
        page_number: u32,
        page_size: u32,
    ) -> Result<Page<EndUser>> {
        let request = Request::to(Action::ListEndUsers, &[customer])?
            .query("PageNumber", page_number)
            .query("PageSize", page_size);
        self.call(request).await
    }

    pub async fn provision_end_user(
        &self,
        customer: &str,
        sip_address: &str,
        body: &ProvisionEndUser,
    ) -> Result<TaskId> {
        let request =
            Request::to(Action::ProvisionEndUser, &[customer, sip_address])?.json(body)?;
        self.call(request).await
    }

    // ---- 9. dial plans --------------------------------------------------------

    /// Get Dial Plan: one dial plan, which some platforms answer as a list of one.
    pub async fn get_dial_plan(
        &self,
        customer: &str,
        site: &str,
        dial_plan: &str,
    ) -> Result<Vec<DialPlan>> {
        let action = Action::GetDialPlan;
        let value = self
            .send(Request::to(action, &[customer, site, dial_plan])?)
            .await?;
        match value {
            Value::Object(_) => Ok(vec![decode(action, value)?]),
            other => decode_list(action, other),
        }
    }

    pub async fn modify_dial_plan(
        &self,
        customer: &str,
        site: &str,
        body: &ModifyDialPlan,
    ) -> Result<Ack> {
        let path = [customer, site, body.dial_plan_id.as_str()];
        self.call(Request::to(Action::ModifyDialPlan, &path)?.json(body)?)
            .await
    }

    pub async fn delete_dial_plan(
        &self,
        customer: &str,
        site: &str,
        dial_plan: &str,
    ) -> Result<Ack> {
        self.call(Request::to(
            Action::DeleteDialPlan,
            &[customer, site, dial_plan],
        )?)
        .await
    }

    // ---- 10. tasks ------------------------------------------------------------

    pub async fn get_task(&self, id: &TaskId) -> Result<Task> {
        self.call(Request::to(Action::GetTask, &[&id.0])?).await
    }

    /// Sends `request` and turns its answer into the call's result (see [`FromAnswer`]).
    async fn call<T: FromAnswer>(&self, request: Request) -> Result<T> {
        let action = request.action;
        T::from_answer(action, self.send(request).await?)
    }
}
