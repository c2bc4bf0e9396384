-- Runs health.lua (as Argo CD would, with a global `obj`) over status fixtures of
-- every kind and checks each outcome. Usage: lua5.4 health_test.lua [health.lua]
local script = arg[1] or "health.lua"
local source = assert(io.open(script)):read("a")

local function health(o)
  local env = setmetatable({ obj = o }, { __index = _G })
  local fn = assert(load(source, script, "t", env))
  return fn()
end

local function cond(type_, status, reason, generation, message)
  return { type = type_, status = status, reason = reason, observedGeneration = generation, message = message or (type_ .. " " .. reason) }
end

local kinds = { "OCPlatform", "OCCustomer", "OCNumberBlock", "OCSipConnection", "OCDialPlan", "OCEndUser" }
local cases = {
  { "no status yet", {}, nil, "Progressing" },
  { "ready now", { cond("Ready", "True", "Available", 3), cond("Synced", "True", "Succeeded", 3) }, nil, "Healthy" },
  { "ready for an older generation", { cond("Ready", "True", "Available", 2) }, nil, "Progressing" },
  { "ready without observedGeneration", { { type = "Ready", status = "True", reason = "Available" } }, nil, "Progressing" },
  { "creating", { cond("Ready", "False", "Creating", 3) }, nil, "Progressing" },
  { "waiting for a task", { cond("Ready", "False", "WaitingForTask", 3) }, nil, "Progressing" },
  { "platform unavailable", { cond("Ready", "False", "Updating", 3), cond("Synced", "False", "ApiUnavailable", 3) }, nil, "Progressing" },
  { "throttled", { cond("Ready", "True", "Available", 3), cond("Synced", "False", "Throttled", 3) }, nil, "Healthy" },
  { "rejected spec", { cond("Ready", "False", "Rejected", 3), cond("Synced", "False", "ReconcileError", 3) }, nil, "Degraded" },
  { "invalid spec", { cond("Ready", "False", "InvalidSpec", 3) }, nil, "Degraded" },
  { "conflict", { cond("Ready", "False", "Conflict", 3) }, nil, "Degraded" },
  { "already exists, not adopted", { cond("Ready", "False", "AlreadyExists", 3) }, nil, "Degraded" },
  { "lead suspended on the platform", { cond("Ready", "False", "LeadNotActive", 3) }, nil, "Degraded" },
  { "namespace not allowed", { cond("Ready", "False", "NamespaceNotAllowed", 3) }, nil, "Degraded" },
  { "licence required", { cond("Ready", "False", "LicenseRequired", 3) }, nil, "Degraded" },
  { "bad credentials", { cond("Ready", "False", "WaitingForDependency", 3), cond("Synced", "False", "Unauthorized", 3, "check the Secret") }, nil, "Degraded" },
  { "deleting", { cond("Ready", "False", "Deleting", 3) }, nil, "Progressing" },
  { "paused by annotation", { cond("Ready", "True", "Available", 3) }, { ["operatorconnect.io/paused"] = "true" }, "Suspended" },
  { "paused by condition", { cond("Synced", "False", "Paused", 3) }, nil, "Suspended" },
}

local failures = 0
for _, kind in ipairs(kinds) do
  for _, case in ipairs(cases) do
    local name, conditions, annotations, want = case[1], case[2], case[3], case[4]
    local o = {
      apiVersion = "operatorconnect.io/v1alpha1",
      kind = kind,
      metadata = { name = "x", generation = 3, annotations = annotations },
      status = (#conditions > 0) and { conditions = conditions } or nil,
    }
    local got = health(o)
    if got.status ~= want or type(got.message) ~= "string" or got.message == "" then
      failures = failures + 1
      print(string.format("FAIL %s / %s: want %s, got %s (%s)", kind, name, want, tostring(got.status), tostring(got.message)))
    end
  end
end
print(string.format("%d cases, %d failures", #kinds * #cases, failures))
os.exit(failures == 0 and 0 or 1)
