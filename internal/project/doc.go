// Package project owns a scaffolded fast-saas project on disk: its manifest
// (fast-saas.yaml: the module selection, domain, ACME email and catalog
// version), its .env file, and the lifecycle that keeps the generated files
// in step with the selection — Init, Add, Remove, Regenerate, RotateSecret.
//
// The invariant every operation keeps: a secret that exists in .env is never
// changed, except by an explicit RotateSecret. Missing secrets are generated
// with crypto/rand in the format the catalog declares.
package project
