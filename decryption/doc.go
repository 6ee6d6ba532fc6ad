// Package decryption decrypts the SOPS-encrypted objects of a build in
// memory, with the age identities of a JobSource's decryption Secret, as
// Flux's kustomize-controller does: the plaintext exists only in the
// objects handed to admission and apply, never on disk, in a log, an
// event, a status or the output of `sparkcd render`.
//
// It sits between the build and admission: the build yields objects as
// git has them (ciphertext and a "sops" key), Decrypt replaces the
// ciphertext by the plaintext of the file the object came from, after
// checking the file's MAC, and reports the objects it cannot decrypt as
// findings, so that only they and the jobs that read them are held back.
// See docs/secrets.md.
package decryption
