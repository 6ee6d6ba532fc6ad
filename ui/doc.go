// Package ui serves sparkcd's read-only web view: the JobSources with their
// revision and findings, the SparkJobs with their schedule, verdict and a
// grid of their last runs, and a page per run with its phases, executor
// timeline, reserved resources and driver log tail. It reads the cluster
// through the Reader and LogReader it is given — get, list and watch only —
// and pushes changes to open pages as server-sent events.
package ui
