/* One lock per SR uuid, shared by every struct sd_sr of that uuid in the process: driver.c
 * holds it around each driver call, so the operations of one SR never interleave although
 * stord runs them on several worker threads (XAPI's SM takes a per-SR lock the same way).
 * A VDI copy holds it only for its short steps, not while the data streams. */
#ifndef TS_STORD_SRLOCK_H
#define TS_STORD_SRLOCK_H

struct sd_srlock;

/* The lock of SR UUID (made on first use, lives as long as the process), or NULL (ENOMEM). */
struct sd_srlock *sd_srlock_for(const char *uuid);
void sd_srlock_take(struct sd_srlock *l);    /* recursive */
void sd_srlock_release(struct sd_srlock *l); /* NULL is fine for both */

#endif
