/* The process title shown by ps and top: "domd: vm 5f1c… domid 7 running".
 *
 *     int main(int argc, char **argv)
 *     {
 *             proctitle_init(argc, argv);   // first thing: before anything keeps argv pointers
 *             ...
 *             proctitle_set_name("domd");   // the short name (comm), 15 bytes at most
 *             proctitle_set("domd: vm %s domid %d %s", uuid, domid, state);
 *
 * proctitle_init moves the environment out of the way (environ is rebuilt on the heap, so
 * getenv/setenv keep working) to make the argv+environ area one block the title can use.
 * The caller's argv[] entries keep pointing into that block: parse the command line before
 * the first proctitle_set (or copy what you keep).  Not thread-safe; call from main. */
#ifndef TS_COMMON_PROCTITLE_H
#define TS_COMMON_PROCTITLE_H

#include <stddef.h>

/* Records the argv area.  Returns 0, or -ENOMEM (then titles only change the short name). */
int proctitle_init(int argc, char **argv);
/* Sets the title seen in /proc/PID/cmdline (ps, top -c); truncated to the space available
 * (the original command line plus environment). */
void proctitle_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Sets the short name seen in /proc/PID/comm (top, ps -o comm, journal's _COMM);
 * the kernel keeps 15 bytes. */
void proctitle_set_name(const char *name);
/* Bytes available for the title, NUL excluded (0 before proctitle_init). */
size_t proctitle_capacity(void);

#endif
