/* Password checks for session.login_with_password, off the event loop.
 *
 * Backends: PAM (service "xapi", as XAPI) or a password file of "user:crypt-hash" lines
 * (salted SHA-512/yescrypt hashes as crypt(3) makes them), which development stacks use.
 * Checks run in a worker thread so a slow PAM module never stalls the loop; a failed check
 * is reported only after a delay (a timer, not a sleep), which slows guessing without
 * blocking other clients. */
#ifndef TS_XAPID_AUTH_H
#define TS_XAPID_AUTH_H

struct event_base;
struct auth;

enum auth_backend {
        AUTH_BACKEND_PAM,
        AUTH_BACKEND_PASSWORD_FILE,
};

/* RESULT: 0 accepted, -EACCES wrong user or password, other negative errno on failure.
 * Called on the event loop. */
typedef void (*auth_done_fn)(int result, void *arg);

/* PASSWORD_FILE is copied; it is re-read at every check, so edits apply at once. */
struct auth *auth_new(struct event_base *base, enum auth_backend backend,
                      const char *password_file);
void auth_free(struct auth *a); /* pending callbacks are dropped */
/* Failed checks are answered after DELAY_MS (default 1000). */
void auth_set_failure_delay(struct auth *a, unsigned delay_ms);
/* Starts a check; USER and PASSWORD are copied.  Returns 0 or a negative errno. */
int auth_check_async(struct auth *a, const char *user, const char *password, auth_done_fn done,
                     void *arg);
/* The synchronous check the worker runs; exposed for tests and change_password. */
int auth_check_sync(enum auth_backend backend, const char *password_file, const char *user,
                    const char *password);
/* Replaces USER's hash in the password file (atomically, by rename).  0 or -errno. */
int auth_password_file_set(const char *password_file, const char *user, const char *password);
int auth_backend_from_name(const char *name); /* "pam", "password-file"; -1 if unknown */

#endif
