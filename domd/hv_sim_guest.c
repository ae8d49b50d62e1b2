/* The simulated guest: what it does is a pure function of the stored record and the time,
 * so every reader computes the same state without writing anything, and a killed domd
 * misses nothing.  Events are placed on the guest's own clock, which only advances while
 * the domain runs:
 *   boot done        at boot_ns
 *   request acked    at max(request, boot_ns) + ack_ns   (unless sim_shutdown=ignore)
 *   request done     at ack + halt_ns                     (unless sim_shutdown=hang)
 *   crash / reboot   at crash_after_ns / reboot_after_ns  (when set)
 * The earliest event due wins and freezes the domain in shutdown(reason). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "domd/hv_sim.h"

LOG_MODULE(hv_sim_guest)

#define MS 1000000ULL

uint64_t sim_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool ticking(const struct sim_dom *d)
{
        return !d->paused && !d->shut;
}

static uint64_t guest_at(const struct sim_dom *d, uint64_t now)
{
        if (!ticking(d) || now < d->run_since_ns)
                return d->guest_base_ns;
        return d->guest_base_ns + (now - d->run_since_ns);
}

/* Monotonic time at which the guest clock reads G (only meaningful while ticking). */
static uint64_t mono_at(const struct sim_dom *d, uint64_t g)
{
        if (!ticking(d) || g < d->guest_base_ns)
                return d->run_since_ns;
        return d->run_since_ns + (g - d->guest_base_ns);
}

struct candidate {
        uint64_t g;
        enum hv_shutdown_reason reason;
};

void sim_guest_eval(const struct sim_dom *d, uint64_t now, struct sim_eval *out)
{
        memset(out, 0, sizeof(*out));
        out->reason = HV_SHUTDOWN_NONE;
        out->guest_ns = guest_at(d, now);
        out->booted = d->started && out->guest_ns >= d->boot_ns;
        if (d->shut) {
                out->state = HV_STATE_SHUTDOWN;
                out->reason = d->reason;
                out->shut_mono_ns = d->shut_mono_ns;
                return;
        }
        uint64_t g = out->guest_ns;
        struct candidate c[3];
        size_t n = 0;
        uint64_t wake = UINT64_MAX; /* earliest future change in guest time */

        if (d->req != HV_SHUTDOWN_NONE && d->on_request != SIM_REQ_IGNORE) {
                uint64_t from = d->req_guest_ns > d->boot_ns ? d->req_guest_ns : d->boot_ns;
                uint64_t ack = from + d->ack_ns;
                out->acked = g >= ack;
                if (!out->acked)
                        wake = ack;
                if (d->on_request == SIM_REQ_OBEY)
                        c[n++] = (struct candidate){ack + d->halt_ns, d->req};
        }
        if (d->crash_after_ns)
                c[n++] = (struct candidate){d->crash_after_ns, HV_SHUTDOWN_CRASH};
        if (d->reboot_after_ns)
                c[n++] = (struct candidate){d->reboot_after_ns, HV_SHUTDOWN_REBOOT};
        if (d->started && !out->booted && d->boot_ns < wake)
                wake = d->boot_ns;

        const struct candidate *due = NULL;
        for (size_t i = 0; i < n; i++) {
                if (c[i].g <= g && (!due || c[i].g < due->g))
                        due = &c[i];
                if (c[i].g > g && c[i].g < wake)
                        wake = c[i].g;
        }
        if (due) {
                out->state = HV_STATE_SHUTDOWN;
                out->reason = due->reason;
                out->shut_mono_ns = mono_at(d, due->g);
                out->guest_ns = due->g;
                out->acked = false;
                return;
        }
        out->state = d->paused ? HV_STATE_PAUSED : HV_STATE_RUNNING;
        if (ticking(d) && wake != UINT64_MAX)
                out->next_mono_ns = mono_at(d, wake);
}

void sim_guest_settle(struct sim_dom *d, uint64_t now)
{
        struct sim_eval e;
        sim_guest_eval(d, now, &e);
        if (e.state != HV_STATE_SHUTDOWN || d->shut)
                return;
        d->shut = true;
        d->reason = e.reason;
        d->shut_mono_ns = e.shut_mono_ns;
        d->guest_base_ns = e.guest_ns;
        d->req = HV_SHUTDOWN_NONE;
        d->req_guest_ns = 0;
}

static int parse_ms(json_t *oc, const char *key, uint64_t dflt, uint64_t *out)
{
        const char *s = json_string_value(json_object_get(oc, key));
        if (!s) {
                *out = dflt * MS;
                return 0;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || *s == '-' || v > UINT64_MAX / MS) {
                log_warnx("other_config %s=%s: not a number of milliseconds", key, s);
                return -EINVAL;
        }
        *out = v * MS;
        return 0;
}

int sim_guest_behaviour(struct sim_dom *d, unsigned default_ack_ms)
{
        json_t *oc = d->other_config;
        int r;
        if ((r = parse_ms(oc, "sim_boot_ms", 20, &d->boot_ns)) < 0 ||
            (r = parse_ms(oc, "sim_ack_ms", default_ack_ms ? default_ack_ms : 50, &d->ack_ns)) <
                0 ||
            (r = parse_ms(oc, "sim_halt_ms", 50, &d->halt_ns)) < 0 ||
            (r = parse_ms(oc, "sim_crash_after_ms", 0, &d->crash_after_ns)) < 0 ||
            (r = parse_ms(oc, "sim_reboot_after_ms", 0, &d->reboot_after_ns)) < 0)
                return r;
        const char *s = json_string_value(json_object_get(oc, "sim_shutdown"));
        if (!s || !strcmp(s, "obey"))
                d->on_request = SIM_REQ_OBEY;
        else if (!strcmp(s, "ignore"))
                d->on_request = SIM_REQ_IGNORE;
        else if (!strcmp(s, "hang"))
                d->on_request = SIM_REQ_HANG;
        else {
                log_warnx("other_config sim_shutdown=%s: expected obey, ignore or hang", s);
                return -EINVAL;
        }
        return 0;
}

void sim_guest_info(const struct sim_dom *d, uint64_t now, struct hv_domain_info *out)
{
        struct sim_eval e;
        sim_guest_eval(d, now, &e);
        memset(out, 0, sizeof(*out));
        out->domid = d->domid;
        memcpy(out->uuid, d->uuid, sizeof(out->uuid));
        snprintf(out->name, sizeof(out->name), "%s", d->name ? d->name : "");
        out->type = d->type;
        out->state = e.state;
        out->shutdown_reason = e.reason;
        out->pending_request = e.state == HV_STATE_SHUTDOWN ? HV_SHUTDOWN_NONE : d->req;
        out->request_acked = e.acked;
        out->booted = e.booted;
        out->memory_actual = d->actual;
        out->memory_target = d->target;
        out->memory_static_max = d->static_max;
        out->vcpus_max = d->vcpus_max;
        out->vcpus_online = d->vcpus_online;
        out->cpu_time_ns = e.guest_ns * d->vcpus_online;
        out->start_time_ms = d->created_rt_ms;
        out->n_disks = (unsigned)json_array_size(d->disks);
        out->n_nics = (unsigned)json_array_size(d->nics);
}
