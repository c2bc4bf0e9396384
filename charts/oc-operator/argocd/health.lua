-- Argo CD health of every oc-operator kind, from status.conditions.
-- Healthy: Ready=True for the current generation. Suspended: paused by annotation.
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
local degraded = {
  Rejected = true, InvalidSpec = true, Conflict = true, AlreadyExists = true, LeadNotActive = true, NamespaceNotAllowed = true,
  LicenseRequired = true, NumbersAssigned = true,
}
if degraded[ready.reason] or (synced ~= nil and synced.status == "False" and synced.reason == "Unauthorized") then
  hs.status = "Degraded"
  hs.message = ready.message or ready.reason
  if synced ~= nil and synced.reason == "Unauthorized" then
    hs.message = synced.message or "unauthorized"
  end
  return hs
end
hs.message = ready.message or ready.reason or hs.message
return hs
