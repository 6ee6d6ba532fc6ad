// Package argohealth runs an Argo CD health check — a Lua script of
// resource.customizations.health — on an object as Argo CD does, so that
// the scripts sparkcd ships (deploy/argocd) are tested against real
// status objects: the object in the global obj, only the base, table and
// package libraries open, one second to finish, and a returned table with
// status and message.
package argohealth
