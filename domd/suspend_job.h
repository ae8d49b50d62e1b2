/* A suspend run by a helper process: writing a real domain's image takes seconds (many
 * under TCG), during which domd must keep answering xapid (pings, status).  The child opens
 * its own hypervisor handle (libxencall's buffers do not survive fork) and reports the
 * result through a pipe that domd's event loop watches. */
#ifndef TS_DOMD_SUSPEND_JOB_H
#define TS_DOMD_SUSPEND_JOB_H

#include <stdbool.h>

#include "domd/domd.h"

/* Called on domd's loop when the job ended: ERR as hv_domain_suspend's (the image synced
 * to disk when 0); PATH and TIMEOUT_MS as given to suspend_job_start. */
typedef void (*suspend_job_done)(struct domd *m, const struct msg_origin *from, int err,
                                 const char *path, unsigned timeout_ms);

/* Starts the suspend of M's domain into FD (the job owns FD from then on, also on
 * failure).  -EBUSY when a job runs. */
int suspend_job_start(struct domd *m, const struct msg_origin *from, int fd, const char *path,
                      unsigned timeout_ms, suspend_job_done done);
/* True while a job runs: the domain's shutdown(suspend) is then the job's, not news. */
bool suspend_job_busy(void);

#endif
