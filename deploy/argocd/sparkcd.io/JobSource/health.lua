-- Argo CD health of a sparkcd JobSource (docs/status.md, docs/argocd.md).
-- Suspended: spec.suspend. Degraded: Stalled (a build or a verification
-- that fails for the whole source, a blocked prune, a refused identity)
-- or a fetch that fails and is retried. Healthy: the revision is applied —
-- also when some jobs were rejected (reason JobsRejected): a rejected job
-- is a finding of the source, listed in status.jobs, and its SparkJob is
-- Degraded. Progressing: the first reconcile, or a new generation.
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
  hs.message = "JobSource is suspended: nothing is fetched or applied until spec.suspend is false"
  return hs
end
local ready = condition("Ready")
local stalled = condition("Stalled")
-- Conditions of an older generation are not a verdict on this spec.
if ready == nil or (obj.metadata.generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < obj.metadata.generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for sparkcd to reconcile the JobSource"
  return hs
end
hs.message = ready.message
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
elseif ready.status == "True" then
  hs.status = "Healthy"
elseif ready.status == "False" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
return hs
