// Package deploy holds the deployment files of a livestream cluster
// (deploy/kubernetes, and docker-compose.yml at the repository root) and
// the tests that check them against the livestream binary itself: each
// container runs a real role with flags and LIVESTREAM_* variables that
// role has, probes and Services reach ports it listens on. It has no code:
// nothing imports it.
package deploy
