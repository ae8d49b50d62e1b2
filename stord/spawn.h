/* Running the storage tools (qemu-img, lvm, mount) without a shell: posix_spawn with stdout
 * and stderr captured through pipes. */
#ifndef TS_STORD_SPAWN_H
#define TS_STORD_SPAWN_H

struct sd_error;

struct sd_run_result {
        int status; /* exit status, or 128 + signal number */
        char *out;  /* captured stdout, NUL-terminated; owned */
        char *err;  /* captured stderr, trailing whitespace trimmed; owned */
};

/* Runs ARGV (argv[0] looked up in PATH) with stdin from /dev/null.  Returns 0 when the program
 * ran (whatever its exit status; see R->status), or a negative errno when it could not be
 * started.  R is filled in both cases; free it with sd_run_result_clear. */
int sd_run(const char *const argv[], struct sd_run_result *r);
void sd_run_result_clear(struct sd_run_result *r);

/* sd_run that wants exit status 0: otherwise fills E with SM_CODE and a reason made of WHAT,
 * the command's name and its stderr, and returns -EIO (or the spawn errno).  OUT, if not NULL,
 * receives stdout (caller frees). */
int sd_run_ok(const char *const argv[], char **out, struct sd_error *e, int sm_code,
              const char *what);

#endif
