/* Blocking client of the control sockets (common/ctl.h), used by tsctl and tests.
 *
 *     int status;
 *     char *text;
 *     const char *argv[] = {"log/set", "debug"};
 *     int r = ctl_call("/run/xapid/xapid.ctl", 2, argv, 10000, &status, &text);
 *     if (r < 0) ... no answer (strerror(-r))
 *     else if (status / 100 != 2) ... the daemon refused: TEXT says why
 *     free(text);
 */
#ifndef TS_COMMON_CTL_CLIENT_H
#define TS_COMMON_CTL_CLIENT_H

/* Sends ARGV (ARGC words, command first) to the control socket at PATH and waits for the
 * reply, TIMEOUT_MS in all (connect, send, receive; <= 0 waits forever).  Returns 0 with
 * *STATUS and *TEXT (NUL-terminated, caller frees) set, or a negative errno: -ENOENT or
 * -ECONNREFUSED (no daemon there), -EACCES (socket not ours), -ETIMEDOUT, -E2BIG (request
 * longer than CTL_MAX_REQUEST), -EPROTO (malformed reply or connection closed early). */
int ctl_call(const char *path, int argc, const char *const *argv, int timeout_ms, int *status,
             char **text);

#endif
