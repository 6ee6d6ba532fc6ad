-- Argo CD health of a sparkcd SparkJob (docs/status.md, docs/argocd.md).
-- Suspended: spec.suspend. Degraded: Stalled (an invalid spec, a policy
-- violation, a version in git that was rejected, a failed run) or a run
-- that cannot start or whose driver is stuck. Healthy: the last run
-- succeeded, no run yet, or a run is running — a running Spark job is
-- healthy, as Argo CD reads a RUNNING SparkApplication. Progressing: a
-- run pending, a new spec or an attempt not started yet.
local hs = {}
local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end
if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "SparkJob is suspended: no run starts until spec.suspend is false"
  return hs
end
local ready = condition("Ready")
local reconciling = condition("Reconciling")
local stalled = condition("Stalled")
-- Conditions of an older generation are not a verdict on this spec.
if ready == nil or (obj.metadata.generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < obj.metadata.generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for sparkcd to reconcile the SparkJob"
  return hs
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
  return hs
end
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = reconciling.message
  if ready.status == "False" then
    -- Under way, but something is wrong: a stuck driver, a missing
    -- service account, a refused write. A scheduled retry or a spec
    -- being applied is not.
    if reconciling.reason == "RetryScheduled" or reconciling.reason == "ApplyPending" or reconciling.reason == "Drifted" then
      hs.status = "Progressing"
    else
      hs.status = "Degraded"
      hs.message = ready.message
    end
    return hs
  end
  if reconciling.reason == "RunRunning" or reconciling.reason == "WaitingForActiveRun" then
    hs.status = "Healthy"
    return hs
  end
  hs.status = "Progressing"
  return hs
end
hs.message = ready.message
if ready.status == "True" then
  hs.status = "Healthy"
elseif ready.status == "False" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
return hs
