// Package filewatch polls a file for changes by its modification time and
// size, for the hot-reloaded configuration files (the rules file, the
// routing file). Polling needs no fsnotify: it works on every filesystem
// and with container-mounted config maps.
//
// Contract: a change is reported once the file's stamp has held still for
// one poll, so a file being written is not read half-way (writers should
// still replace files atomically: write, then rename); an unreadable file
// is reported once per change of state, and reading it again later counts
// as a change.
package filewatch
