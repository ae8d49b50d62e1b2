/* Suspend, resume and restore of simulated domains: the guest is asked to suspend like a
 * real one (it may ignore the request), then its image goes to a file or a stream. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "domd/hv_sim.h"

LOG_MODULE(hv_sim_suspend)

#define MS 1000000ULL

static void sleep_until(uint64_t mono_ns)
{
        struct timespec ts = {(time_t)(mono_ns / 1000000000ULL), (long)(mono_ns % 1000000000ULL)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

static int do_withdraw(struct sim *s, struct sim_dom *d, uint64_t now, void *arg)
{
        if (d->shut || d->req != HV_SHUTDOWN_SUSPEND)
                return 0;
        d->req = HV_SHUTDOWN_NONE;
        return 1;
}

static int do_write_image(struct sim *s, struct sim_dom *d, uint64_t now, void *arg)
{
        if (!d->shut || d->reason != HV_SHUTDOWN_SUSPEND)
                return -ECANCELED; /* resumed or destroyed meanwhile */
        char *console = NULL;
        size_t clen;
        sim_console_read(s->root, d->domid, 1u << 20, &console, &clen);
        int r = sim_image_write(*(int *)arg, d, d->guest_base_ns, console);
        free(console);
        return r;
}

int sim_domain_suspend(struct hv *h, uint32_t domid, int fd, unsigned timeout_ms)
{
        struct sim *s = sim_of(h);
        int r = hv_domain_shutdown(h, domid, HV_SHUTDOWN_SUSPEND);
        if (r < 0)
                return r;
        uint64_t deadline = sim_now_ns() + timeout_ms * MS;
        struct sim_dom *d = NULL;
        for (;;) {
                if ((r = sim_dom_load(s->root, domid, &d)) < 0)
                        return r;
                uint64_t now = sim_now_ns();
                struct sim_eval e;
                sim_guest_eval(d, now, &e);
                if (e.state == HV_STATE_SHUTDOWN) {
                        if (e.reason == HV_SHUTDOWN_SUSPEND)
                                break;
                        log_warnx("sim: domain %" PRIu32 " went %s instead of suspending", domid,
                                  hv_shutdown_reason_name(e.reason));
                        sim_dom_free(d);
                        return -ECANCELED;
                }
                sim_dom_free(d);
                d = NULL;
                if (now >= deadline) {
                        log_warnx("sim: domain %" PRIu32 " did not suspend within %u ms", domid,
                                  timeout_ms);
                        sim_with_domain(s, domid, do_withdraw, NULL);
                        return -ETIMEDOUT;
                }
                sleep_until(e.next_mono_ns && e.next_mono_ns < deadline ? e.next_mono_ns
                                                                        : deadline);
        }
        sim_dom_free(d);
        /* Under the domain's lock: the stored record now says shutdown(suspend), and nobody
         * changes the domain while its image is written. */
        r = sim_with_domain(s, domid, do_write_image, &fd);
        if (r == 0)
                log_info("sim: domain %" PRIu32 " suspended", domid);
        return r;
}

static int do_resume(struct sim *s, struct sim_dom *d, uint64_t now, void *arg)
{
        if (!d->shut || d->reason != HV_SHUTDOWN_SUSPEND)
                return -EINVAL;
        /* xc_domain_resume: the guest carries on from where it stopped, running. */
        d->shut = false;
        d->reason = HV_SHUTDOWN_NONE;
        d->paused = false;
        d->run_since_ns = now;
        sim_console_append(s->root, d->domid, "PM: resumed after cancelled suspend\n");
        return 1;
}

int sim_domain_resume(struct hv *h, uint32_t domid)
{
        return sim_with_domain(sim_of(h), domid, do_resume, NULL);
}

int sim_domain_restore(struct hv *h, const struct hv_domain_spec *spec, int fd, uint32_t *domid,
                       struct hv_mem_shortage *short_out)
{
        struct sim *s = sim_of(h);
        struct sim_image img;
        struct sim_dom *d = NULL;
        char *console = NULL;
        int r = sim_image_read(fd, &img);
        if (r < 0)
                return r;
        if ((r = sim_dom_from_spec(s, spec, &d)) < 0)
                goto out;
        if (strcasecmp(img.uuid, d->uuid) || img.memory > d->static_max || !img.vcpus_online ||
            img.vcpus_online > d->vcpus_max) {
                log_warnx("sim: image of VM %s (%" PRIu64 " bytes, %u vCPUs) does not fit VM %s",
                          img.uuid, img.memory, img.vcpus_online, d->uuid);
                r = -EINVAL;
                goto out;
        }
        /* The guest resumes where it was: same memory, vCPUs, clock and console. */
        d->target = d->actual = img.memory;
        d->vcpus_online = img.vcpus_online;
        d->guest_base_ns = img.guest_ns;
        d->started = img.booted_console;
        if (asprintf(&console, "%sPM: restored from a suspend image\n", img.console) < 0) {
                console = NULL;
                r = -ENOMEM;
                goto out;
        }
        r = sim_domain_insert(s, d, console, domid, short_out);
        if (r == 0)
                log_info("sim: VM %s restored as domain %" PRIu32, d->uuid, *domid);
out:
        free(console);
        sim_dom_free(d);
        sim_image_clear(&img);
        return r;
}
