-- Argo CD health of every oc-operator kind, from status.conditions.
-- Healthy: Ready=True for the current generation. Suspended: paused by annotation,
-- or observing only with changes planned.
-- Degraded: a problem that needs a person (the spec, credentials, a conflict).
-- Progressing: anything else, including a Ready written for an older generation.
local hs = { status = "Progressing", message = "waiting for the operator" }
local meta = obj.metadata or {}
local annotations = meta.annotations or {}
if annotations["operatorconnect.io/paused"] == "true" then
  hs.status = "Suspended"
  hs.message = "reconciliation is paused by the operatorconnect.io/paused annotation"
  return hs
end
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local ready, synced
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then ready = c end
  if c.type == "Synced" then synced = c end
end
if synced ~= nil and synced.status == "False" and synced.reason == "Paused" then
  hs.status = "Suspended"
  hs.message = synced.message or "paused"
  return hs
end
if ready == nil then
  return hs
end
local generation = meta.generation
if generation ~= nil and (ready.observedGeneration == nil or ready.observedGeneration < generation) then
  hs.message = "the operator has not yet reported on generation " .. tostring(generation)
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "ready"
  return hs
end
-- Suspended: an object that only observes (managementPolicy: ObserveOnly) and found
-- the platform different from its spec; status.plannedActions lists the calls.
local suspended = { ChangesPlanned = true }
if suspended[ready.reason] then
  hs.status = "Suspended"
  hs.message = ready.message or ready.reason
  return hs
end
-- Every reason the operator writes is decided here; a Rust test (tests/argocd.rs)
-- fails when the code has a reason these tables do not name.
-- Degraded: only a person can move it on (a spec, a conflict, a licence to upgrade,
-- a lead the tenant must reactivate, numbers to unassign in Teams or that the
-- platform refused, credentials withheld from an endpoint).
local degraded = {
  Rejected = true, InvalidSpec = true, Conflict = true, AlreadyExists = true, LeadNotActive = true, NamespaceNotAllowed = true,
  LicenseRequired = true, NumbersAssigned = true, PartlyFailed = true, Unauthorized = true, DeletionProtected = true,
  CredentialsWithheld = true,
}
-- Progressing: it moves on by itself (work under way, a dependency on its way, a
-- licence upgrade running, the platform busy or briefly unreachable).
local progressing = {
  Available = true, Creating = true, Updating = true, Deleting = true, WaitingForCustomer = true, WaitingForTask = true,
  WaitingForLicense = true, NoChannel = true, Paused = true, WaitingForPlatform = true,
  WaitingForDependency = true, Succeeded = true, Throttled = true, ApiUnavailable = true,
  ReconcileError = true, Matches = true,
}
-- A Synced reason that needs a person (bad credentials) is Degraded too.
local stuck = synced ~= nil and synced.status == "False" and degraded[synced.reason]
if degraded[ready.reason] or stuck then
  hs.status = "Degraded"
  hs.message = ready.message or ready.reason
  if stuck then
    hs.message = synced.message or synced.reason
  end
  return hs
end
hs.message = ready.message or ready.reason or hs.message
return hs
