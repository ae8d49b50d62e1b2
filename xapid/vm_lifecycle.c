/* The VM lifecycle (see vm_lifecycle.h). */
#include "xapid/vm_lifecycle.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/handlers.h"
#include "api/model_gen.h"
#include "common/err.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/uuid.h"
#include "proto/dom.pb-c.h"
#include "xapid/api.h"
#include "xapid/db.h"
#include "xapid/domd_launch.h"
#include "xapid/domd_spawn.h"
#include "xapid/net.h"
#include "xapid/rpc.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"
#include "xapid/task.h"
#include "xapid/vm_checks.h"
#include "xapid/vm_attach.h"
#include "xapid/vm_suspend.h"
#include "xapid/xapi.h"

LOG_MODULE(vm)

#define NULL_REF      "OpaqueRef:NULL"
#define DOMD_TIMEOUT  1800000 /* a request to a domd; clean shutdowns carry their own */
#define RT_BUCKETS    1024
#define RESPAWN_DELAY 200 /* ms before a lost domd is started again */
#define LAUNCH_MAX    8   /* domds starting at once (see domd_launch.h) */

enum kind {
        K_START,
        K_PAUSE,
        K_UNPAUSE,
        K_CLEAN_SHUTDOWN,
        K_HARD_SHUTDOWN,
        K_SHUTDOWN, /* clean, then hard */
        K_CLEAN_REBOOT,
        K_HARD_REBOOT,
        K_SUSPEND,
        K_RESUME,
        K_AFTER_DESTROY, /* after-actions: not API calls */
        K_AFTER_RESTART,
};

struct vmrt;

struct call {
        struct vms *v;
        struct vmrt *rt;
        enum kind kind;
        int op; /* enum api_vm_operations in current_operations */
        char *vm_ref;
        char *key;           /* the current_operations key */
        struct rpc_req *req; /* NULL: nobody waits for the answer */
        bool paused;
        bool tracked;
        bool clean_failed; /* K_SHUTDOWN: the clean part failed, now hard */
        bool disks_ready;  /* the VDIs are attached (calls that build a domain) */
        bool domd_retried; /* the domd went away under the call: it waited for another */
        bool via_spare;    /* start: a spare domd gets the Build (taken when sent) */
        bool spare_used;   /* ... and has it */
        bool coredump;     /* after-action coredump_and_*: the dump is requested first */
        struct vm_disk_set *disks;
        bool image_ready; /* suspend/resume: the image VDI is attached at image_path */
        char *image_path, *image_vdi;
        struct event *timer; /* waiting for the domd, or for a conflicting call */
        struct call *next;   /* in the waiting list */
};

/* What xapid knows of one VM's domd beyond the datamodel. */
struct vmrt {
        struct vmrt *next;
        char uuid[UUID_STR_LEN];
        /* the identity of the VM's domd: domd/<uuid>, or the spare-XXXXXXXX that became it
         * (a spare keeps its one connection) */
        char peer[MSG_IDENTITY_MAX + 1];
        bool domd_up;
        /* a call ended without the domd's answer (it was dropped or died mid-call): whether
         * the domain was built, destroyed or left alone is unknown until a domd of the VM
         * announces itself again, so one is started even for a VM that is not live */
        bool unsure;
        struct call *op;      /* the call running on the VM */
        struct call *pending; /* == op while waiting for the domd to connect */
        /* power_state_reset while the VM's domd was on its way (a spare that built the
         * domain and has not said Hello as the VM's yet): its Hello gets a Destroy */
        bool reset_destroy;
        struct call *waiting; /* conflicting calls, oldest first */
        struct event *respawn;
        struct vms *v;
        struct vm_restart_history restarts;
        /* the image VDI of a suspend that ended unanswered: the domd may still finish the
         * save (it was stopped, not dead) and answer late; that answer decides its fate */
        char *orphan_image;
};

struct vms {
        struct xapi *x;
        struct vms_config cfg;
        struct domd_spawner *spawner;
        struct domd_launcher *launcher;
        struct vmrt *buckets[RT_BUCKETS];
        struct event *reconcile_timer;
        void (*reconciled)(void *arg);
        void *reconciled_arg;
        bool reconciling;
        /* starts waiting for a spare on its way (oldest first, linked by next) */
        struct call *spare_wait;
        unsigned n_spare_wait;
};

/* How long a start waits for a spare on its way before it starts a domd of its own. */
#define SPARE_WAIT_MS 1000

static int call_run(struct call *c, struct api_error *err);
static bool vm_is_live(const struct api_VM *r);
static bool domd_needed(struct vmrt *rt, struct db_row *vm);
static void call_done(struct call *c, int r, struct api_error *err);
static void wake_waiters(struct vmrt *rt);

/* ---- small helpers -------------------------------------------------------------------------- */

static char *xstrdup(const char *s)
{
        char *d = strdup(s != NULL ? s : "");
        if (d == NULL)
                abort();
        return d;
}

static void set_ref(struct xapi *x, struct db_row *row, int f, const char *ref)
{
        const char *cur = *(char **)model_slot(row->rec, &row->cls->fields[f]);
        if (strcmp(cur, ref) != 0)
                db_set(x->db, row, f, &ref);
}

static int64_t wall_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void committed(int result, void *arg)
{
        if (result < 0)
                log_warnx("cannot store a VM change: %s", strerror(-result));
}

static void commit(struct xapi *x)
{
        if (x->commit != NULL)
                x->commit(x->commit_ctx, committed, NULL);
}

static unsigned hash(const char *s)
{
        unsigned h = 2166136261u;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 16777619u;
        return h % RT_BUCKETS;
}

static void on_respawn(evutil_socket_t fd, short what, void *arg);

static struct vmrt *rt_get(struct vms *v, const char *uuid)
{
        unsigned b = hash(uuid);
        for (struct vmrt *rt = v->buckets[b]; rt != NULL; rt = rt->next)
                if (strcmp(rt->uuid, uuid) == 0)
                        return rt;
        struct vmrt *rt = calloc(1, sizeof(*rt));
        if (rt == NULL)
                abort();
        snprintf(rt->uuid, sizeof(rt->uuid), "%s", uuid);
        snprintf(rt->peer, sizeof(rt->peer), "domd/%s", uuid);
        rt->v = v;
        rt->respawn = evtimer_new(v->x->base, on_respawn, rt);
        rt->next = v->buckets[b];
        v->buckets[b] = rt;
        return rt;
}

static struct db_row *vm_row(struct vms *v, const char *uuid)
{
        return db_get_by_uuid(v->x->db, &mclass_VM, uuid);
}

static void identity(const struct vmrt *rt, char out[MSG_IDENTITY_MAX + 1])
{
        snprintf(out, MSG_IDENTITY_MAX + 1, "%s", rt->peer);
}

static const char *peer_state(const struct msg_peer_info *p, const char *key);

/* The VM whose domd the peer named PEER is: domd/<uuid>, or a spare that became one (the
 * vm of its Hello, or the VM that took it); NULL for any other peer. */
static const char *peer_vm(struct vms *v, const char *peer)
{
        if (strncmp(peer, "domd/", 5) == 0)
                return peer + 5;
        if (!domd_spare_name(peer) || v->x->msg == NULL)
                return NULL;
        const struct msg_peer_info *p = msg_link_peer(v->x->msg, peer);
        const char *vm = p != NULL ? peer_state(p, "vm") : NULL;
        if (vm != NULL && uuid_is_valid(vm))
                return vm;
        /* not listed (any more): a domd dropped for silence may still answer late */
        for (size_t b = 0; b < RT_BUCKETS; b++)
                for (struct vmrt *rt = v->buckets[b]; rt != NULL; rt = rt->next)
                        if (strcmp(rt->peer, peer) == 0)
                                return rt->uuid;
        return NULL;
}

/* ---- the datamodel side -------------------------------------------------------------------- */

static struct db_row *metrics_row(struct xapi *x, struct db_row *vm)
{
        struct api_VM *r = vm->rec;
        struct db_row *m = db_get(x->db, &mclass_VM_metrics, r->metrics);
        if (m != NULL)
                return m;
        struct api_VM_metrics *rec = model_record_new(&mclass_VM_metrics);
        rec->install_time = time(NULL);
        if (db_insert(x->db, &mclass_VM_metrics, NULL, rec, &m) < 0) {
                model_record_free(&mclass_VM_metrics, rec);
                return NULL;
        }
        db_set(x->db, vm, API_VM_F_metrics, &m->ref);
        return m;
}

static void update_allowed(struct xapi *x, struct db_row *vm)
{
        if (vm_update_allowed_ops(vm->ref, vm->rec))
                db_touch(x->db, vm);
}

static void set_devices(struct xapi *x, struct db_row *vm, const Ts__Dom__Status *st)
{
        struct api_VM *r = vm->rec;
        bool vif_changed = false;
        for (size_t i = 0; i < r->VIFs.n; i++) {
                struct db_row *row = db_get(x->db, &mclass_VIF, r->VIFs.v[i].s);
                if (row == NULL)
                        continue;
                struct api_VIF *vif = row->rec;
                bool on = false;
                for (size_t k = 0; st != NULL && k < st->n_nics; k++)
                        on = on || (unsigned)atoi(vif->device) == st->nics[k];
                if (vif->currently_attached != on) {
                        vif->currently_attached = on;
                        db_touch(x->db, row);
                        vif_changed = true;
                }
        }
        for (size_t i = 0; i < r->VBDs.n; i++) {
                struct db_row *row = db_get(x->db, &mclass_VBD, r->VBDs.v[i].s);
                if (row == NULL)
                        continue;
                struct api_VBD *vbd = row->rec;
                bool on = false;
                for (size_t k = 0; st != NULL && k < st->n_disks; k++)
                        on = on || strcmp(vbd->device, st->disks[k]) == 0;
                if (vbd->currently_attached != on) {
                        vbd->currently_attached = on;
                        db_touch(x->db, row);
                }
        }
        if (vif_changed)
                net_apply(x, NULL, NULL); /* bridges follow the attached VIFs */
}

static void make_console(struct xapi *x, struct db_row *vm, bool hvm)
{
        struct api_VM *r = vm->rec;
        if (r->consoles.n > 0)
                return;
        struct api_console *c = model_record_new(&mclass_console);
        c->protocol = menum_lookup(&menum_console_protocol, hvm ? "rfb" : "vt100");
        free(c->VM);
        c->VM = xstrdup(vm->ref);
        struct db_row *row;
        if (db_insert(x->db, &mclass_console, NULL, c, &row) < 0) {
                model_record_free(&mclass_console, c);
                return;
        }
        struct db_row *host = db_get(x->db, &mclass_host, x->host_ref);
        const char *addr = host != NULL ? ((struct api_host *)host->rec)->address : "";
        char loc[512];
        snprintf(loc, sizeof(loc), "https://%s/console?ref=%s", addr[0] ? addr : "localhost",
                 row->ref);
        const char *l = loc;
        db_set(x->db, row, API_console_F_location, &l);
}

static void drop_consoles(struct xapi *x, struct db_row *vm)
{
        struct api_VM *r = vm->rec;
        while (r->consoles.n > 0) {
                struct db_row *c = db_get(x->db, &mclass_console, r->consoles.v[0].s);
                if (c == NULL)
                        break;
                db_delete(x->db, c);
        }
}

static void set_booted_record(struct xapi *x, struct db_row *vm)
{
        struct evbuffer *b = evbuffer_new();
        if (b == NULL)
                return;
        struct rpc_writer *w = malloc(sizeof(*w));
        if (w == NULL) {
                evbuffer_free(b);
                return;
        }
        rpcw_init(w, RPCW_XML_FRAGMENT, b);
        model_record_write(w, &mclass_VM, vm->rec);
        rpcw_flush(w);
        size_t n = evbuffer_get_length(b);
        char *text = malloc(n + 1);
        if (text != NULL) {
                evbuffer_remove(b, text, n);
                text[n] = '\0';
                const char *t = text;
                db_set(x->db, vm, API_VM_F_last_booted_record, &t);
                free(text);
        }
        free(w);
        evbuffer_free(b);
}

/* The VM has no domain any more: POWER is Halted or Suspended. */
static void set_down(struct vms *v, struct db_row *vm, int power)
{
        struct xapi *x = v->x;
        struct api_VM *r = vm->rec;
        if (r->power_state != power) {
                r->power_state = power;
                db_touch(x->db, vm);
        }
        if (r->domid != -1) {
                r->domid = -1;
                db_touch(x->db, vm);
        }
        set_ref(x, vm, API_VM_F_resident_on, NULL_REF);
        set_ref(x, vm, API_VM_F_scheduled_to_be_resident_on, NULL_REF);
        drop_consoles(x, vm);
        vm_attach_detach(x, vm, NULL, true);
        set_devices(x, vm, NULL);
        struct db_row *m = db_get(x->db, &mclass_VM_metrics, r->metrics);
        if (m != NULL) {
                struct api_VM_metrics *mr = m->rec;
                mr->memory_actual = 0;
                mr->last_updated = time(NULL);
                db_touch(x->db, m);
        }
        update_allowed(x, vm);
}

/* The VM has a domain, in the state ST reports. */
static void set_up(struct vms *v, struct db_row *vm, const Ts__Dom__Status *st, bool booted)
{
        struct xapi *x = v->x;
        struct api_VM *r = vm->rec;
        int power = strcmp(st->state, "paused") == 0 ? API_VM_POWER_STATE_PAUSED
                                                     : API_VM_POWER_STATE_RUNNING;
        if (r->power_state != power || r->domid != (int64_t)st->domid) {
                r->power_state = power;
                r->domid = st->domid;
                db_touch(x->db, vm);
        }
        set_ref(x, vm, API_VM_F_resident_on, x->host_ref);
        set_ref(x, vm, API_VM_F_scheduled_to_be_resident_on, NULL_REF);
        make_console(x, vm, strcmp(st->domain_type, "hvm") == 0);
        set_devices(x, vm, st);
        struct db_row *m = metrics_row(x, vm);
        if (m != NULL) {
                struct api_VM_metrics *mr = m->rec;
                mr->memory_actual = (int64_t)st->memory_actual;
                mr->VCPUs_number = st->vcpus_online;
                const struct mtype *ut =
                    mclass_VM_metrics.fields[API_VM_metrics_F_VCPUs_utilisation].type;
                model_slot_free(ut, &mr->VCPUs_utilisation);
                for (unsigned i = 0; i < st->vcpus_online; i++) {
                        int64_t k = i;
                        double u = 0.0;
                        mmap_put(ut, &mr->VCPUs_utilisation, &k, &u);
                }
                if (st->start_time_ms > 0)
                        mr->start_time = (time_t)(st->start_time_ms / 1000);
                int dt = menum_lookup(&menum_domain_type, st->domain_type);
                if (dt >= 0)
                        mr->current_domain_type = dt;
                mr->hvm = strcmp(st->domain_type, "hvm") == 0;
                mr->last_updated = time(NULL);
                db_touch(x->db, m);
        }
        if (booted)
                set_booted_record(x, vm);
        update_allowed(x, vm);
}

/* Brings VM in line with a domd's Status. */
static void apply_status(struct vms *v, struct db_row *vm, const Ts__Dom__Status *st, bool booted)
{
        if (st->has_domain)
                set_up(v, vm, st, booted);
        else if (((struct api_VM *)vm->rec)->power_state != API_VM_POWER_STATE_SUSPENDED)
                set_down(v, vm, API_VM_POWER_STATE_HALTED);
}

/* ---- the build specification --------------------------------------------------------------- */

struct specbuf {
        Ts__Dom__Spec spec;
        Ts__Peer__KeyValue *kv;
        Ts__Peer__KeyValue **kvp;
        Ts__Dom__Nic *nics;
        Ts__Dom__Nic **nicp;
        char (*macs)[32];
};

static void kv_fill(struct specbuf *b, size_t *at, const struct mmap *m, const char *prefix,
                    Ts__Peer__KeyValue ***out, size_t *n)
{
        *out = b->kvp + *at;
        *n = 0;
        for (size_t i = 0; i < m->n; i++) {
                if (prefix != NULL && strncmp(m->k[i].s, prefix, strlen(prefix)) != 0)
                        continue;
                Ts__Peer__KeyValue *kv = &b->kv[*at];
                ts__peer__key_value__init(kv);
                kv->key = m->k[i].s;
                kv->value = m->v[i].s;
                b->kvp[*at] = kv;
                (*at)++;
                (*n)++;
        }
}

static const char *domain_type_of(const struct api_VM *r)
{
        const char *t = menum_domain_type.values[r->domain_type];
        if (strcmp(t, "pv_in_pvh") == 0)
                return "pvh";
        if (strcmp(t, "unspecified") == 0)
                return r->HVM_boot_policy[0] ? "hvm" : "pv";
        return t;
}

static void spec_build(struct vms *v, struct db_row *vm, const struct vm_disk_set *disks,
                       struct specbuf *b)
{
        struct xapi *x = v->x;
        const struct api_VM *r = vm->rec;
        memset(b, 0, sizeof(*b));
        ts__dom__spec__init(&b->spec);
        Ts__Dom__Spec *s = &b->spec;
        s->uuid = r->uuid;
        s->name = r->name_label;
        s->domain_type = (char *)domain_type_of(r);
        s->memory_static_min = (uint64_t)r->memory_static_min;
        s->memory_static_max = (uint64_t)r->memory_static_max;
        s->memory_dynamic_min = (uint64_t)r->memory_dynamic_min;
        s->memory_dynamic_max = (uint64_t)r->memory_dynamic_max;
        s->vcpus_max = (uint32_t)r->VCPUs_max;
        s->vcpus_at_startup = (uint32_t)r->VCPUs_at_startup;
        s->kernel = r->PV_kernel;
        s->ramdisk = r->PV_ramdisk;
        s->cmdline = r->PV_args;
        s->bootloader = r->PV_bootloader;
        s->bootloader_args = r->PV_bootloader_args;
        size_t total = r->platform.n + r->other_config.n + r->xenstore_data.n;
        b->kv = calloc(total + 1, sizeof(*b->kv));
        b->kvp = calloc(total + 1, sizeof(*b->kvp));
        b->nics = calloc(r->VIFs.n + 1, sizeof(*b->nics));
        b->nicp = calloc(r->VIFs.n + 1, sizeof(*b->nicp));
        if (b->kv == NULL || b->kvp == NULL || b->nics == NULL || b->nicp == NULL)
                abort();
        size_t at = 0;
        kv_fill(b, &at, &r->platform, NULL, &s->platform, &s->n_platform);
        kv_fill(b, &at, &r->other_config, NULL, &s->other_config, &s->n_other_config);
        kv_fill(b, &at, &r->xenstore_data, "vm-data", &s->xenstore_data, &s->n_xenstore_data);
        for (size_t i = 0; i < r->VIFs.n; i++) {
                struct db_row *row = db_get(x->db, &mclass_VIF, r->VIFs.v[i].s);
                if (row == NULL)
                        continue;
                struct api_VIF *vif = row->rec;
                struct db_row *net = db_get(x->db, &mclass_network, vif->network);
                Ts__Dom__Nic *n = &b->nics[s->n_nics];
                ts__dom__nic__init(n);
                n->devid = (uint32_t)atoi(vif->device);
                n->mac = vif->MAC;
                n->bridge = net != NULL ? ((struct api_network *)net->rec)->bridge : "";
                n->mtu = vif->MTU > 0 ? (uint32_t)vif->MTU : 0;
                n->vif_uuid = vif->uuid;
                b->nicp[s->n_nics++] = n;
        }
        s->nics = b->nicp;
        if (disks != NULL) {
                s->disks = disks->disks;
                s->n_disks = disks->n;
        }
}

static void spec_free(struct specbuf *b)
{
        free(b->kv);
        free(b->kvp);
        free(b->nics);
        free(b->nicp);
}

/* ---- calls ---------------------------------------------------------------------------------- */

static void call_free(struct call *c)
{
        vm_disk_set_free(c->disks);
        free(c->image_path);
        free(c->image_vdi);
        if (c->timer != NULL)
                event_free(c->timer);
        free(c->vm_ref);
        free(c->key);
        free(c);
}

static void call_cancelled(void *arg)
{
        struct call *c = arg;
        c->req = NULL; /* the operation goes on; the datamodel follows the domain */
}

static void track(struct call *c)
{
        struct xapi *x = c->v->x;
        struct db_row *vm = db_get(x->db, &mclass_VM, c->vm_ref);
        if (vm == NULL)
                return;
        struct api_VM *r = vm->rec;
        const char *k = c->key;
        int op = c->op;
        mmap_put(mclass_VM.fields[API_VM_F_current_operations].type, &r->current_operations, &k,
                 &op);
        db_touch(x->db, vm);
        update_allowed(x, vm);
        c->tracked = true;
}

static void untrack(struct call *c)
{
        if (!c->tracked)
                return;
        struct xapi *x = c->v->x;
        c->tracked = false;
        struct db_row *vm = db_get(x->db, &mclass_VM, c->vm_ref);
        if (vm == NULL)
                return;
        struct api_VM *r = vm->rec;
        const char *k = c->key;
        mmap_remove(mclass_VM.fields[API_VM_F_current_operations].type, &r->current_operations, &k);
        db_touch(x->db, vm);
        update_allowed(x, vm);
}

/* Ends C: its answer, the VM's operations, and the next waiting call. */
static void call_done(struct call *c, int r, struct api_error *err)
{
        struct vmrt *rt = c->rt;
        if (rt->op == c)
                rt->op = NULL;
        if (rt->pending == c)
                rt->pending = NULL;
        untrack(c);
        if (rt->unsure && !rt->domd_up) {
                struct timeval tv = {0, RESPAWN_DELAY * 1000};
                evtimer_add(rt->respawn, &tv); /* on_respawn: once no call runs */
        }
        if (c->req != NULL)
                rpc_resume(c->req, r, err);
        else
                commit(c->v->x);
        api_error_clear(err);
        call_free(c);
        wake_waiters(rt);
}

static void on_status(int status, const ProtobufCMessage *reply, const char *errtext, void *arg);

static int wait_for_domd(struct call *c);

/* The unanswered suspend's image (if any) is kept (SAVED: the VM's suspend_VDI) or deleted. */
static void orphan_release(struct vms *v, struct db_row *vm, struct vmrt *rt, bool saved)
{
        if (rt->orphan_image == NULL)
                return;
        if (vm != NULL)
                vm_image_written(v->x, vm, rt->orphan_image, saved);
        free(rt->orphan_image);
        rt->orphan_image = NULL;
}

static int send_request(struct call *c, const ProtobufCMessage *body, struct api_error *err)
{
        struct xapi *x = c->v->x;
        char id[MSG_IDENTITY_MAX + 1];
        identity(c->rt, id);
        bool spare = false;
        if (c->via_spare) {
                char name[DOMD_SPARE_NAME_LEN];
                c->via_spare = false;
                if (domd_spare_take(c->v->spawner, c->rt->uuid, name) < 0)
                        return wait_for_domd(c); /* taken by others meanwhile */
                snprintf(id, sizeof(id), "%s", name);
                spare = c->spare_used = true;
                /* the spare is the VM's domd from now on; it says Hello again as the VM's
                 * once it has answered the Build: calls wait for that */
                snprintf(c->rt->peer, sizeof(c->rt->peer), "%s", name);
                c->rt->domd_up = false;
        }
        int r = msg_link_request(x->msg, id, body, &ts__dom__status__descriptor, DOMD_TIMEOUT,
                                 on_status, c);
        if (r < 0 && spare) {
                /* the spare is gone; once it is reaped a new domd is started for the VM */
                log_warnx("vm %s: spare domd %s unreachable: %s", c->rt->uuid, id, strerror(-r));
                domd_spawner_kill(c->v->spawner, c->rt->uuid);
                c->domd_retried = true;
                return wait_for_domd(c);
        }
        if (r == -EHOSTUNREACH && !c->domd_retried && c->rt->pending == NULL) {
                /* The domd exited (or is exiting) since it last spoke, e.g. after destroying
                 * its domain for a suspend: wait for a fresh one, once. */
                log_info("vm %s: its domd went away; waiting for another", c->rt->uuid);
                c->domd_retried = true;
                c->rt->domd_up = false;
                return wait_for_domd(c);
        }
        if (r < 0)
                return api_error_set(err, "INTERNAL_ERROR", "the VM's domd cannot be reached",
                                     NULL);
        const char *task = c->req != NULL ? rpc_req_task(c->req) : NULL;
        if (task != NULL)
                task_set_progress(x, task, 0.5); /* the domd has the request */
        return 0;
}

static int call_send(struct call *c, struct api_error *err);

static void image_ready(void *arg, int r, struct api_error *err, const char *path,
                        const char *vdi_ref)
{
        struct call *c = arg;
        if (r < 0) {
                call_done(c, r, err);
                return;
        }
        c->image_ready = true;
        c->image_path = xstrdup(path);
        c->image_vdi = xstrdup(vdi_ref);
        struct api_error e = {0};
        r = call_send(c, &e);
        if (r < 0)
                call_done(c, r, &e);
}

static void disks_attached(void *arg, int r, struct api_error *err, struct vm_disk_set *set)
{
        struct call *c = arg;
        if (r < 0) {
                call_done(c, r, err);
                return;
        }
        c->disks = set;
        struct api_error e = {0};
        r = call_send(c, &e);
        if (r < 0)
                call_done(c, r, &e);
}

/* Sends C's request to the domd (connected). */
static int call_send(struct call *c, struct api_error *err)
{
        struct vms *v = c->v;
        struct db_row *vm = db_get(v->x->db, &mclass_VM, c->vm_ref);
        if (vm == NULL)
                return api_error_set(err, "HANDLE_INVALID", "VM", c->vm_ref, NULL);
        struct specbuf sb;
        int r;
        bool needs_spec = c->kind == K_START || c->kind == K_RESUME || c->kind == K_CLEAN_REBOOT ||
                          c->kind == K_HARD_REBOOT || c->kind == K_AFTER_RESTART;
        if (needs_spec && !c->disks_ready) {
                r = vm_attach_attach(v->x, vm, NULL, disks_attached, c, err);
                if (r < 0)
                        return r;
                c->disks_ready = true;
                if (r == 0)
                        return 0; /* disks_attached goes on */
        }
        if ((c->kind == K_SUSPEND || c->kind == K_RESUME) && !c->image_ready) {
                r = c->kind == K_SUSPEND ? vm_image_create(v->x, vm, image_ready, c, err)
                                         : vm_image_open(v->x, vm, image_ready, c, err);
                return r < 0 ? r : 0; /* image_ready goes on */
        }
        if (c->coredump) {
                Ts__Dom__Coredump m = TS__DOM__COREDUMP__INIT;
                return send_request(c, &m.base, err); /* on_status goes on with the rest */
        }
        switch (c->kind) {
        case K_START: {
                spec_build(v, vm, c->disks, &sb);
                Ts__Dom__Build m = TS__DOM__BUILD__INIT;
                m.spec = &sb.spec;
                m.start_paused = c->paused;
                r = send_request(c, &m.base, err);
                spec_free(&sb);
                return r;
        }
        case K_RESUME: {
                spec_build(v, vm, c->disks, &sb);
                Ts__Dom__Resume m = TS__DOM__RESUME__INIT;
                m.spec = &sb.spec;
                m.path = c->image_path;
                m.start_paused = c->paused;
                r = send_request(c, &m.base, err);
                spec_free(&sb);
                return r;
        }
        case K_PAUSE: {
                Ts__Dom__Pause m = TS__DOM__PAUSE__INIT;
                return send_request(c, &m.base, err);
        }
        case K_UNPAUSE: {
                Ts__Dom__Unpause m = TS__DOM__UNPAUSE__INIT;
                return send_request(c, &m.base, err);
        }
        case K_SHUTDOWN:
        case K_CLEAN_SHUTDOWN:
        case K_HARD_SHUTDOWN: {
                Ts__Dom__Shutdown m = TS__DOM__SHUTDOWN__INIT;
                m.hard = c->kind == K_HARD_SHUTDOWN || c->clean_failed ||
                         ((struct api_VM *)vm->rec)->power_state != API_VM_POWER_STATE_RUNNING;
                m.ack_timeout_ms = v->cfg.ack_timeout_ms;
                m.timeout_ms = v->cfg.shutdown_timeout_ms;
                return send_request(c, &m.base, err);
        }
        case K_AFTER_DESTROY: {
                Ts__Dom__Destroy m = TS__DOM__DESTROY__INIT;
                return send_request(c, &m.base, err);
        }
        case K_CLEAN_REBOOT:
        case K_HARD_REBOOT:
        case K_AFTER_RESTART: {
                spec_build(v, vm, c->disks, &sb);
                Ts__Dom__Reboot m = TS__DOM__REBOOT__INIT;
                m.hard = c->kind != K_CLEAN_REBOOT;
                m.ack_timeout_ms = v->cfg.ack_timeout_ms;
                m.timeout_ms = v->cfg.shutdown_timeout_ms;
                m.spec = &sb.spec;
                r = send_request(c, &m.base, err);
                spec_free(&sb);
                return r;
        }
        case K_SUSPEND: {
                Ts__Dom__Suspend m = TS__DOM__SUSPEND__INIT;
                m.path = c->image_path;
                m.timeout_ms = v->cfg.shutdown_timeout_ms;
                return send_request(c, &m.base, err);
        }
        }
        return api_error_set(err, "INTERNAL_ERROR", "unknown VM operation", NULL);
}

static void on_domd_timeout(evutil_socket_t fd, short what, void *arg)
{
        struct call *c = arg;
        struct api_error err = {0};
        log_warnx("vm %s: its domd did not connect within %ums", c->rt->uuid,
                  c->v->cfg.domd_connect_ms);
        api_error_set(&err, "INTERNAL_ERROR", "the VM's domd did not start", NULL);
        call_done(c, -ETIMEDOUT, &err);
}

/* Starts the VM's domd unless it is on its way; 1: it waits for its turn to start. */
static int start_domd(struct vms *v, struct vmrt *rt)
{
        int r = domd_launch(v->launcher, rt->uuid);
        if (r < 0)
                log_warnx("vm %s: cannot start its domd: %s", rt->uuid, strerror(-r));
        return r;
}

static void arm_connect_timer(struct call *c)
{
        unsigned ms = c->v->cfg.domd_connect_ms;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        if (evtimer_add(c->timer, &tv) < 0)
                abort();
}

/* A queued domd's turn came: still needed by a call, or by a VM that runs? */
static bool launch_wanted(void *arg, const char *uuid)
{
        struct vms *v = arg;
        struct vmrt *rt = rt_get(v, uuid);
        if (rt->domd_up)
                return false;
        if (rt->pending != NULL)
                return true;
        return domd_needed(rt, vm_row(v, uuid));
}

/* ... and it started now: a call's connect timeout counts from here. */
static void launch_started(void *arg, const char *uuid)
{
        struct vmrt *rt = rt_get(arg, uuid);
        if (rt->pending != NULL)
                arm_connect_timer(rt->pending);
}

static void spare_wait_remove(struct call *c)
{
        struct vms *v = c->v;
        for (struct call **p = &v->spare_wait; *p != NULL; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        c->next = NULL;
                        v->n_spare_wait--;
                        return;
                }
}

/* No spare came in time: the call starts a domd of its own. */
static void on_spare_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
        struct call *c = arg;
        spare_wait_remove(c);
        log_info("vm %s: no spare domd within %dms; starting one for it", c->rt->uuid,
                 SPARE_WAIT_MS);
        wait_for_domd(c);
}

/* C waits for the next spare to announce itself (spare_ready). */
static int wait_for_spare(struct call *c)
{
        struct vms *v = c->v;
        if (c->timer != NULL)
                event_free(c->timer);
        c->timer = evtimer_new(v->x->base, on_spare_wait_timeout, c);
        struct timeval tv = {SPARE_WAIT_MS / 1000, (SPARE_WAIT_MS % 1000) * 1000};
        if (c->timer == NULL || evtimer_add(c->timer, &tv) < 0)
                abort();
        struct call **p = &v->spare_wait;
        while (*p != NULL)
                p = &(*p)->next;
        c->next = NULL;
        *p = c;
        v->n_spare_wait++;
        return 0;
}

/* A spare announced itself: the oldest start waiting for one gets it. */
static void spare_ready(struct vms *v)
{
        while (v->spare_wait != NULL && domd_spare_ready(v->spawner)) {
                struct call *c = v->spare_wait;
                spare_wait_remove(c);
                event_del(c->timer);
                c->via_spare = true;
                struct api_error err = {0};
                int r = call_send(c, &err);
                if (r < 0)
                        call_done(c, r, &err);
        }
}

/* True while an earlier domd of the VM that this xapid did not start (it was started by
 * the previous xapid) is still there, about to exit: a spare could not take its names yet. */
static bool earlier_domd_alive(struct vms *v, struct vmrt *rt)
{
        char id[MSG_IDENTITY_MAX + 1];
        identity(rt, id);
        const struct msg_peer_info *p = v->x->msg != NULL ? msg_link_peer(v->x->msg, id) : NULL;
        return p != NULL && p->pid > 0 && kill(p->pid, 0) == 0;
}

/* Runs C: directly when the domd is connected, else once it has started and said Hello. */
static int call_run(struct call *c, struct api_error *err)
{
        struct vmrt *rt = c->rt;
        rt->op = c;
        if (rt->domd_up)
                return call_send(c, err);
        if (!domd_spawn_running(c->v->spawner, rt->uuid))
                rt->reset_destroy = false; /* the domd it was meant for is gone */
        /* a VM without a domd that needs a new domain: a spare saves the exec (a spare
         * becomes a VM's domd through a Build only) */
        if (c->kind == K_START && !domd_spawn_running(c->v->spawner, rt->uuid) &&
            !earlier_domd_alive(c->v, rt)) {
                if (c->v->spare_wait == NULL && domd_spare_ready(c->v->spawner)) {
                        c->via_spare = true;
                        return call_send(c, err);
                }
                /* a spare on its way is ahead of a new exec; beyond those (a storm), the
                 * calls start their own domds at once */
                if (c->v->n_spare_wait < domd_spares_starting(c->v->spawner))
                        return wait_for_spare(c);
        }
        return wait_for_domd(c);
}

/* C goes on once the VM's domd (started now unless on its way) has said Hello. */
static int wait_for_domd(struct call *c)
{
        struct vmrt *rt = c->rt;
        struct vms *v = c->v;
        rt->pending = c;
        if (c->timer != NULL)
                event_free(c->timer);
        c->timer = evtimer_new(v->x->base, on_domd_timeout, c);
        if (c->timer == NULL)
                abort();
        if (start_domd(v, rt) != 1)
                arm_connect_timer(c); /* else once its domd starts (launch_started) */
        return 0;
}

/* The domd's answer to C's request. */
static void on_status(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        struct call *c = arg;
        struct vms *v = c->v;
        struct xapi *x = v->x;
        struct api_error err = {0};
        const Ts__Dom__Status *st = (const Ts__Dom__Status *)reply;
        struct db_row *vm = db_get(x->db, &mclass_VM, c->vm_ref);
        log_debug("vm %s: %s answered: %s%s%s", c->rt->uuid, menum_vm_operations.values[c->op],
                  status < 0       ? strerror(-status)
                  : st->has_domain ? "a domain"
                                   : "no domain",
                  status >= 0 && st->failure != NULL ? ", failed: " : "",
                  status >= 0 && st->failure != NULL ? st->failure->code : "");
        c->rt->unsure = status < 0; /* an answer tells the domain's state */
        if (status < 0 && c->kind == K_SUSPEND && c->image_vdi != NULL && vm != NULL) {
                orphan_release(v, vm, c->rt, false);
                c->rt->orphan_image = c->image_vdi;
                c->image_vdi = NULL;
        }
        if (status < 0 && c->spare_used && !c->domd_retried) {
                /* whatever state the spare is in, it is not to be used; the call goes on
                 * with a domd of its own once the spare is gone */
                log_warnx("vm %s: the spare domd failed (%s); starting another", c->rt->uuid,
                          errtext && errtext[0] ? errtext : strerror(-status));
                domd_spawner_kill(v->spawner, c->rt->uuid);
                c->spare_used = false;
                c->domd_retried = true;
                c->rt->domd_up = false;
                wait_for_domd(c);
                return;
        }
        if (status < 0) {
                api_error_set(&err, "INTERNAL_ERROR",
                              errtext && errtext[0] ? errtext : strerror(-status), NULL);
                call_done(c, status, &err);
                return;
        }
        if (vm == NULL) {
                call_done(c, 0, &err);
                return;
        }
        struct api_VM *r = vm->rec;
        if (c->coredump) {
                /* the dump of a crashed domain: whatever came of it, the action goes on */
                c->coredump = false;
                if (st->failure != NULL)
                        log_warnx("vm %s: no core dump: %s", r->uuid,
                                  st->failure->n_params > 0 ? st->failure->params[0]
                                                            : st->failure->code);
                else
                        log_info("vm %s: core dump written by its domd", r->uuid);
                int e = call_send(c, &err);
                if (e < 0)
                        call_done(c, e, &err);
                return;
        }
        if (!st->has_domain && c->kind != K_START && c->kind != K_RESUME)
                c->rt->domd_up = false; /* a domd whose domain was destroyed exits */
        if (st->failure != NULL) {
                /* domd names the VM by uuid; a client expects the ref */
                const char *ps[API_ERROR_MAX_PARAMS];
                size_t n = 0;
                for (size_t i = 0; i < st->failure->n_params && n < API_ERROR_MAX_PARAMS; i++)
                        ps[n++] = strcmp(st->failure->params[i], r->uuid) == 0
                                      ? vm->ref
                                      : st->failure->params[i];
                api_error_setv(&err, st->failure->code, ps, n);
                apply_status(v, vm, st, false);
                if (!st->has_domain && c->disks != NULL && c->disks->n > 0)
                        vm_attach_detach(x, vm, NULL, false); /* the build failed */
                if (c->kind == K_SUSPEND && c->image_vdi != NULL)
                        vm_image_written(x, vm, c->image_vdi, false);
                if (c->kind == K_RESUME && c->image_ready)
                        vm_image_close(x, vm);
                if (c->kind == K_SHUTDOWN && !c->clean_failed && st->has_domain) {
                        /* VM.shutdown: the clean attempt failed, force it */
                        api_error_clear(&err);
                        c->clean_failed = true;
                        int e = call_send(c, &err);
                        if (e < 0)
                                call_done(c, e, &err);
                        return;
                }
                call_done(c, st->failure->errnum > 0 ? -st->failure->errnum : -EIO, &err);
                return;
        }
        switch (c->kind) {
        case K_SUSPEND:
                vm_image_written(x, vm, c->image_vdi, true);
                set_down(v, vm, API_VM_POWER_STATE_SUSPENDED);
                break;
        case K_RESUME:
                vm_image_destroy(x, vm);
                apply_status(v, vm, st, false);
                break;
        case K_START:
        case K_CLEAN_REBOOT:
        case K_HARD_REBOOT:
        case K_AFTER_RESTART:
                /* a spare that built the domain (a start) says Hello again as the VM's domd:
                 * the call does not wait for that Hello (the VM runs, and its pid file, control
                 * socket and state file are the VM's already); a call coming before it
                 * waits for it as for any domd on its way (the spare is the VM's domd for
                 * domd_spawn_running), and the Hello's state tells what the domain did
                 * meanwhile (reconcile) */
                apply_status(v, vm, st, true);
                break;
        default:
                apply_status(v, vm, st, false);
                break;
        }
        call_done(c, 0, &err);
}

static struct call *call_new(struct vms *v, struct db_row *vm, enum kind kind, int op,
                             const char *task)
{
        struct call *c = calloc(1, sizeof(*c));
        if (c == NULL)
                abort();
        c->v = v;
        c->kind = kind;
        c->op = op;
        c->vm_ref = xstrdup(vm->ref);
        c->rt = rt_get(v, ((struct api_VM *)vm->rec)->uuid);
        if (task != NULL && task[0]) {
                c->key = xstrdup(task);
        } else {
                char u[UUID_STR_LEN], ref[64];
                uuid_generate_str(u);
                snprintf(ref, sizeof(ref), "OpaqueRef:%s", u);
                c->key = xstrdup(ref);
        }
        return c;
}

/* Work that needs no domd; returns 1 when C completed here. */
static int call_local(struct call *c, struct db_row *vm, struct api_error *err)
{
        struct api_VM *r = vm->rec;
        if ((c->kind == K_HARD_SHUTDOWN || c->kind == K_SHUTDOWN) &&
            r->power_state == API_VM_POWER_STATE_SUSPENDED) {
                vm_image_destroy(c->v->x, vm);
                set_down(c->v, vm, API_VM_POWER_STATE_HALTED);
                return 1;
        }
        return 0;
}

/* Checks C and starts it; -EBUSY: it conflicts with an operation in progress. */
static int call_try(struct call *c, struct api_error *err)
{
        struct xapi *x = c->v->x;
        struct db_row *vm = db_get(x->db, &mclass_VM, c->vm_ref);
        if (vm == NULL)
                return api_error_set(err, "HANDLE_INVALID", "VM", c->vm_ref, NULL);
        int r = vm_check_op(vm->ref, vm->rec, c->op, err);
        if (r == 0 && c->rt->op != NULL) {
                /* an after-action runs (it is in current_operations too, so this is rare) */
                r = api_error_set(err, "OTHER_OPERATION_IN_PROGRESS", "VM", vm->ref,
                                  menum_vm_operations.values[c->rt->op->op], c->rt->op->key, NULL);
                r = -EBUSY;
        }
        if (r < 0)
                return r;
        r = call_local(c, vm, err);
        if (r != 0)
                return r;
        track(c);
        r = call_run(c, err);
        if (r < 0) {
                c->rt->op = NULL;
                c->rt->pending = NULL;
                untrack(c);
        }
        return r;
}

static void on_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
        struct call *c = arg;
        struct vmrt *rt = c->rt;
        struct call **p = &rt->waiting;
        while (*p != NULL && *p != c)
                p = &(*p)->next;
        if (*p == c)
                *p = c->next;
        struct api_error err = {0};
        struct db_row *vm = db_get(c->v->x->db, &mclass_VM, c->vm_ref);
        int r = vm != NULL ? vm_check_op(vm->ref, vm->rec, c->op, &err) : -ENOENT;
        if (r == 0)
                api_error_set(&err, "OTHER_OPERATION_IN_PROGRESS", "VM", c->vm_ref, "", "", NULL);
        if (c->req != NULL)
                rpc_resume(c->req, r < 0 ? r : -EBUSY, &err);
        api_error_clear(&err);
        call_free(c);
}

static void waiter_cancelled(void *arg)
{
        struct call *c = arg;
        struct vmrt *rt = c->rt;
        struct call **p = &rt->waiting;
        while (*p != NULL && *p != c)
                p = &(*p)->next;
        if (*p == c) {
                *p = c->next;
                call_free(c);
        } else {
                c->req = NULL;
        }
}

/* The running call finished: the oldest waiting call gets its turn (and the others, if they
 * can run alongside). */
static void wake_waiters(struct vmrt *rt)
{
        while (rt->waiting != NULL && rt->op == NULL) {
                struct call *c = rt->waiting;
                struct api_error err = {0};
                struct db_row *vm = db_get(rt->v->x->db, &mclass_VM, c->vm_ref);
                if (vm != NULL && vm_check_op(vm->ref, vm->rec, c->op, &err) == -EBUSY) {
                        api_error_clear(&err);
                        return; /* still blocked by something else */
                }
                api_error_clear(&err);
                rt->waiting = c->next;
                c->next = NULL;
                event_del(c->timer);
                if (c->req != NULL)
                        rpc_on_cancel(c->req, call_cancelled, c);
                int r = call_try(c, &err);
                if (r == 1 || r < 0) {
                        if (c->req != NULL)
                                rpc_resume(c->req, r < 0 ? r : 0, &err);
                        api_error_clear(&err);
                        call_free(c);
                }
        }
}

void vms_operation_ended(struct xapi *x, const char *uuid)
{
        if (x->vms == NULL)
                return;
        for (struct vmrt *rt = x->vms->buckets[hash(uuid)]; rt != NULL; rt = rt->next)
                if (strcmp(rt->uuid, uuid) == 0) {
                        wake_waiters(rt);
                        return;
                }
}

/* ---- API handlers --------------------------------------------------------------------------- */

static struct db_row *vm_param(struct api_ctx *ctx, const struct rpc_value *v,
                               struct api_error *err)
{
        const char *ref = v->type == RPC_STRING ? v->u.str.s : "";
        struct db_row *row = db_get(ctx->db, &mclass_VM, ref);
        if (row == NULL)
                api_error_set(err, "HANDLE_INVALID", "VM", ref, NULL);
        return row;
}

static int begin(struct api_ctx *ctx, const struct rpc_value *v, enum kind kind, int op,
                 bool paused, struct api_error *err)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        struct vms *vs = x->vms;
        struct db_row *vm = vm_param(ctx, v, err);
        if (vm == NULL)
                return -ENOENT;
        if (vs == NULL || x->msg == NULL)
                return api_error_set(err, "INTERNAL_ERROR", "no VM lifecycle in this xapid", NULL);
        struct call *c = call_new(vs, vm, kind, op, rpc_req_task(ctx->user));
        c->paused = paused;
        int r = call_try(c, err);
        if (r == -EBUSY && vs->cfg.operation_wait_ms > 0) {
                api_error_clear(err);
                struct call **p = &c->rt->waiting;
                while (*p != NULL)
                        p = &(*p)->next;
                *p = c;
                c->timer = evtimer_new(x->base, on_wait_timeout, c);
                unsigned ms = vs->cfg.operation_wait_ms;
                struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
                if (c->timer == NULL || evtimer_add(c->timer, &tv) < 0)
                        abort();
                c->req = rpc_defer(ctx);
                rpc_on_cancel(c->req, waiter_cancelled, c);
                return 0;
        }
        if (r < 0 || r == 1) {
                call_free(c);
                return r < 0 ? r : 0;
        }
        c->req = rpc_defer(ctx);
        rpc_on_cancel(c->req, call_cancelled, c);
        return 0;
}

static bool bool_param(const struct rpc_value *v)
{
        return v->type == RPC_BOOL && v->u.b;
}

int h_VM_start(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
               struct rpc_writer *w, struct api_error *err)
{
        return begin(ctx, params[1], K_START, API_VM_OPERATIONS_START, bool_param(params[2]), err);
}

static int check_host(struct api_ctx *ctx, const struct rpc_value *h, struct api_error *err)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        const char *ref = h->type == RPC_STRING ? h->u.str.s : "";
        if (db_get(ctx->db, &mclass_host, ref) == NULL)
                return api_error_set(err, "HANDLE_INVALID", "host", ref, NULL);
        if (strcmp(ref, x->host_ref) != 0)
                return api_error_set(err, "HOST_OFFLINE", ref, NULL);
        return 0;
}

int h_VM_start_on(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                  struct rpc_writer *w, struct api_error *err)
{
        if (vm_param(ctx, params[1], err) == NULL)
                return -ENOENT;
        int r = check_host(ctx, params[2], err);
        if (r < 0)
                return r;
        return begin(ctx, params[1], K_START, API_VM_OPERATIONS_START_ON, bool_param(params[3]),
                     err);
}

int h_VM_pause(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
               struct rpc_writer *w, struct api_error *err)
{
        return begin(ctx, params[1], K_PAUSE, API_VM_OPERATIONS_PAUSE, false, err);
}

int h_VM_unpause(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        return begin(ctx, params[1], K_UNPAUSE, API_VM_OPERATIONS_UNPAUSE, false, err);
}

int h_VM_clean_shutdown(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                        struct rpc_writer *w, struct api_error *err)
{
        return begin(ctx, params[1], K_CLEAN_SHUTDOWN, API_VM_OPERATIONS_CLEAN_SHUTDOWN, false,
                     err);
}

int h_VM_hard_shutdown(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                       struct rpc_writer *w, struct api_error *err)
{
        return begin(ctx, params[1], K_HARD_SHUTDOWN, API_VM_OPERATIONS_HARD_SHUTDOWN, false, err);
}

int h_VM_shutdown(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                  struct rpc_writer *w, struct api_error *err)
{
        return begin(ctx, params[1], K_SHUTDOWN, API_VM_OPERATIONS_SHUTDOWN, false, err);
}

int h_VM_clean_reboot(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                      struct rpc_writer *w, struct api_error *err)
{
        return begin(ctx, params[1], K_CLEAN_REBOOT, API_VM_OPERATIONS_CLEAN_REBOOT, false, err);
}

int h_VM_hard_reboot(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                     struct rpc_writer *w, struct api_error *err)
{
        return begin(ctx, params[1], K_HARD_REBOOT, API_VM_OPERATIONS_HARD_REBOOT, false, err);
}

int h_VM_suspend(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        return begin(ctx, params[1], K_SUSPEND, API_VM_OPERATIONS_SUSPEND, false, err);
}

int h_VM_resume(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                struct rpc_writer *w, struct api_error *err)
{
        return begin(ctx, params[1], K_RESUME, API_VM_OPERATIONS_RESUME, bool_param(params[2]),
                     err);
}

int h_VM_resume_on(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                   struct rpc_writer *w, struct api_error *err)
{
        if (vm_param(ctx, params[1], err) == NULL)
                return -ENOENT;
        int r = check_host(ctx, params[2], err);
        if (r < 0)
                return r;
        return begin(ctx, params[1], K_RESUME, API_VM_OPERATIONS_RESUME_ON, bool_param(params[3]),
                     err);
}

static void reset_destroyed(int status, const ProtobufCMessage *reply, const char *errtext,
                            void *arg)
{
        if (status < 0)
                log_warnx("power_state_reset: destroying the domain: %s", strerror(-status));
}

/* Destroys the domain of RT's domd (connected) for a power_state_reset. */
static void reset_destroy(struct xapi *x, struct vmrt *rt)
{
        char id[MSG_IDENTITY_MAX + 1];
        identity(rt, id);
        Ts__Dom__Destroy m = TS__DOM__DESTROY__INIT;
        if (msg_link_request(x->msg, id, &m.base, &ts__dom__status__descriptor, DOMD_TIMEOUT,
                             reset_destroyed, NULL) == 0)
                rt->domd_up = false;
}

/* VM.power_state_reset: the VM is Halted in the datamodel (XAPI's "it is not running
 * anywhere"); a domain of it that still runs here is destroyed. */
int h_VM_power_state_reset(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                           struct rpc_writer *w, struct api_error *err)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        struct db_row *vm = vm_param(ctx, params[1], err);
        if (vm == NULL)
                return -ENOENT;
        int r = vm_check_op(vm->ref, vm->rec, API_VM_OPERATIONS_POWER_STATE_RESET, err);
        if (r < 0)
                return r;
        if (x->vms == NULL)
                return 0;
        struct vmrt *rt = rt_get(x->vms, ((struct api_VM *)vm->rec)->uuid);
        /* on a single host a domain the datamodel no longer knows must not run on */
        if (rt->domd_up && x->msg != NULL)
                reset_destroy(x, rt);
        else if (vm_is_live(vm->rec) && domd_spawn_running(x->vms->spawner, rt->uuid))
                rt->reset_destroy = true; /* its domd is on its way: at its Hello */
        if (((struct api_VM *)vm->rec)->power_state == API_VM_POWER_STATE_SUSPENDED)
                vm_image_destroy(x, vm);
        set_down(x->vms, vm, API_VM_POWER_STATE_HALTED);
        return 0;
}

/* ---- what the domds tell -------------------------------------------------------------------- */

/* Runs an after-action (restart or destroy, after a core dump when COREDUMP) that no
 * client asked for. */
static void after_action(struct vms *v, struct db_row *vm, enum kind kind, bool coredump)
{
        struct call *c = call_new(v, vm, kind,
                                  kind == K_AFTER_RESTART ? API_VM_OPERATIONS_HARD_REBOOT
                                                          : API_VM_OPERATIONS_HARD_SHUTDOWN,
                                  NULL);
        c->coredump = coredump;
        struct api_error err = {0};
        track(c);
        int r = call_run(c, &err);
        if (r < 0) {
                log_warnx("vm %s: after-action failed: %s", c->rt->uuid, err.code);
                call_done(c, r, &err);
        }
}

static void handle_shutdown(struct vms *v, struct vmrt *rt, struct db_row *vm, const char *why)
{
        struct api_VM *r = vm->rec;
        bool restart = false, preserve = false, coredump = false;
        const char *action;
        if (strcmp(why, "crash") == 0 || strcmp(why, "watchdog") == 0) {
                action = menum_on_crash_behaviour.values[r->actions_after_crash];
                coredump = r->actions_after_crash == API_ON_CRASH_BEHAVIOUR_COREDUMP_AND_DESTROY ||
                           r->actions_after_crash == API_ON_CRASH_BEHAVIOUR_COREDUMP_AND_RESTART;
                switch (r->actions_after_crash) {
                case API_ON_CRASH_BEHAVIOUR_RESTART:
                case API_ON_CRASH_BEHAVIOUR_COREDUMP_AND_RESTART:
                case API_ON_CRASH_BEHAVIOUR_RENAME_RESTART:
                        restart = true;
                        break;
                case API_ON_CRASH_BEHAVIOUR_PRESERVE:
                        preserve = true;
                        break;
                default:
                        break;
                }
        } else if (strcmp(why, "reboot") == 0) {
                action = menum_on_normal_exit.values[r->actions_after_reboot];
                restart = r->actions_after_reboot == API_ON_NORMAL_EXIT_RESTART;
        } else if (strcmp(why, "poweroff") == 0) {
                action = menum_on_normal_exit.values[r->actions_after_shutdown];
                restart = r->actions_after_shutdown == API_ON_NORMAL_EXIT_RESTART;
        } else {
                return; /* suspend: only on request */
        }
        log_info("vm %s shut down (%s): %s", r->uuid, why, action);
        if (preserve) {
                /* the domain stays for inspection; XAPI shows such a VM Paused */
                if (r->power_state != API_VM_POWER_STATE_PAUSED) {
                        r->power_state = API_VM_POWER_STATE_PAUSED;
                        db_touch(v->x->db, vm);
                        update_allowed(v->x, vm);
                        commit(v->x);
                }
                return;
        }
        if (restart && !vm_restart_allowed(&rt->restarts, wall_ms())) {
                log_warnx("vm %s restarted %d times within %ds: halting it instead", r->uuid,
                          VM_RESTART_LIMIT, VM_RESTART_WINDOW_MS / 1000);
                restart = false;
        }
        after_action(v, vm, restart ? K_AFTER_RESTART : K_AFTER_DESTROY, coredump);
}

static int on_event(struct msg_link *l, const struct msg_origin *from, const ProtobufCMessage *body,
                    void *arg)
{
        struct vms *v = arg;
        const Ts__Dom__Event *ev = (const Ts__Dom__Event *)body;
        const char *uuid = peer_vm(v, from->peer);
        if (uuid == NULL)
                return 0;
        struct db_row *vm = vm_row(v, uuid);
        if (vm == NULL)
                return 0;
        struct vmrt *rt = rt_get(v, uuid);
        if (strcmp(rt->peer, from->peer) != 0)
                return 0; /* an earlier domd of the VM */
        rt->domd_up = true;
        if (rt->op != NULL)
                return 0; /* the running call brings the datamodel in line */
        switch (ev->kind) {
        case TS__DOM__EVENT__KIND__SHUTDOWN:
                handle_shutdown(v, rt, vm, ev->reason);
                return 0;
        case TS__DOM__EVENT__KIND__VANISHED:
                log_warnx("vm %s: its domain vanished", uuid);
                rt->domd_up = false;
                set_down(v, vm, API_VM_POWER_STATE_HALTED);
                break;
        default:
                if (ev->status != NULL && ev->status->has_domain)
                        set_up(v, vm, ev->status, false);
                break;
        }
        commit(v->x);
        return 0;
}

/* A domd's answer that came after its call had ended (the domd was dropped for silence
 * while stopped, then finished the work): the datamodel follows the domain. */
static int on_late_status(struct msg_link *l, const struct msg_origin *from,
                          const ProtobufCMessage *body, void *arg)
{
        struct vms *v = arg;
        const Ts__Dom__Status *st = (const Ts__Dom__Status *)body;
        const char *uuid = peer_vm(v, from->peer);
        if (from->kind != TS__KIND__REPLY || uuid == NULL)
                return 0;
        struct db_row *vm = vm_row(v, uuid);
        struct vmrt *rt = rt_get(v, uuid);
        if (vm == NULL || rt->op != NULL)
                return 0; /* the running call brings the datamodel in line */
        log_info("vm %s: a late answer of its domd: %s", rt->uuid,
                 st->has_domain ? st->state : "no domain");
        if (!st->has_domain)
                rt->domd_up = false; /* a domd whose domain was destroyed exits */
        if (rt->orphan_image != NULL && !st->has_domain && st->failure == NULL) {
                /* the suspend finished after all: the VM is Suspended with its image */
                orphan_release(v, vm, rt, true);
                set_down(v, vm, API_VM_POWER_STATE_SUSPENDED);
                commit(v->x);
                return 0;
        }
        orphan_release(v, vm, rt, false);
        apply_status(v, vm, st, false);
        commit(v->x);
        return 0;
}

static const char *peer_state(const struct msg_peer_info *p, const char *key)
{
        for (size_t i = 0; i < p->n_state; i++)
                if (strcmp(p->state[i]->key, key) == 0)
                        return p->state[i]->value;
        return NULL;
}

static bool vm_is_live(const struct api_VM *r)
{
        return r->power_state == API_VM_POWER_STATE_RUNNING ||
               r->power_state == API_VM_POWER_STATE_PAUSED;
}

/* Whether the VM (VM's row, NULL once destroyed) should have a domd although no call asks
 * for one: its domain runs, or what became of it is unknown. */
static bool domd_needed(struct vmrt *rt, struct db_row *vm)
{
        return vm != NULL && (rt->unsure || vm_is_live(vm->rec));
}

static void check_reconciled(struct vms *v);

/* A domd announced itself: its domain's state as the datamodel sees it. */
static void reconcile(struct vms *v, struct vmrt *rt, struct db_row *vm,
                      const struct msg_peer_info *p)
{
        struct api_VM *r = vm->rec;
        const char *state = peer_state(p, "state");
        const char *domid = peer_state(p, "domid");
        if (state == NULL || strcmp(state, "none") == 0 || domid == NULL) {
                if (vm_is_live(r)) {
                        log_warnx("vm %s: no domain any more; now Halted", r->uuid);
                        set_down(v, vm, API_VM_POWER_STATE_HALTED);
                }
                return;
        }
        Ts__Dom__Status st = TS__DOM__STATUS__INIT;
        st.has_domain = true;
        st.domid = (uint32_t)strtoul(domid, NULL, 10);
        st.state = (char *)state;
        st.domain_type = (char *)domain_type_of(r);
        if (r->power_state == API_VM_POWER_STATE_PAUSED && strcmp(state, "paused") != 0 &&
            strcmp(state, "running") != 0)
                st.state = "paused"; /* preserved after a crash */
        /* keep the devices as they are recorded: the domd still has them */
        struct db_row *m = db_get(v->x->db, &mclass_VM_metrics, r->metrics);
        if (m != NULL) {
                st.memory_actual = (uint64_t)((struct api_VM_metrics *)m->rec)->memory_actual;
                st.vcpus_online = (uint32_t)((struct api_VM_metrics *)m->rec)->VCPUs_number;
        }
        if (r->power_state != API_VM_POWER_STATE_RUNNING &&
            r->power_state != API_VM_POWER_STATE_PAUSED) {
                set_up(v, vm, &st, false);
        } else if (r->domid != (int64_t)st.domid ||
                   (strcmp(state, "paused") == 0) !=
                       (r->power_state == API_VM_POWER_STATE_PAUSED)) {
                r->domid = st.domid;
                if (strcmp(state, "paused") == 0 || strcmp(state, "running") == 0)
                        r->power_state = strcmp(state, "paused") == 0 ? API_VM_POWER_STATE_PAUSED
                                                                      : API_VM_POWER_STATE_RUNNING;
                db_touch(v->x->db, vm);
                update_allowed(v->x, vm);
        }
        const char *reason = peer_state(p, "reason");
        if (strcmp(state, "shutdown") == 0 && reason != NULL &&
            r->power_state != API_VM_POWER_STATE_PAUSED)
                handle_shutdown(v, rt, vm, reason); /* it happened while nobody listened */
}

void vms_domd_peer(struct xapi *x, const struct msg_peer_info *p, int up)
{
        struct vms *v = x->vms;
        if (v == NULL)
                return;
        const char *uuid = NULL;
        if (strncmp(p->identity, "domd/", 5) == 0) {
                uuid = p->identity + 5;
        } else if (domd_spare_name(p->identity)) {
                uuid = peer_state(p, "vm"); /* a spare that became a VM's domd */
                if (uuid == NULL || !uuid_is_valid(uuid)) {
                        domd_spare_announced(v->spawner, p->identity, p->pid, up);
                        if (up)
                                spare_ready(v);
                        return;
                }
        } else {
                return;
        }
        struct vmrt *rt = rt_get(v, uuid);
        struct db_row *vm = vm_row(v, uuid);
        uint64_t gen = db_generation(x->db);
        if (!up && strcmp(rt->peer, p->identity) != 0)
                return; /* an earlier domd of the VM, replaced already */
        if (up)
                snprintf(rt->peer, sizeof(rt->peer), "%s", p->identity);
        if (!up) {
                rt->domd_up = false;
                if (domd_needed(rt, vm) && rt->op == NULL) {
                        log_warnx("vm %s: its domd is gone; starting another", uuid);
                        struct timeval tv = {0, RESPAWN_DELAY * 1000};
                        evtimer_add(rt->respawn, &tv);
                }
                return;
        }
        rt->domd_up = true;
        domd_launch_settled(v->launcher, uuid);
        if (rt->reset_destroy) {
                rt->reset_destroy = false;
                log_info("vm %s: reset while its domd was on its way: its domain is destroyed",
                         uuid);
                reset_destroy(x, rt);
                if (rt->pending == NULL)
                        return;
                rt->domd_up = true; /* the call waiting for it follows the Destroy */
        }
        if (rt->pending != NULL) {
                struct call *c = rt->pending;
                rt->pending = NULL;
                event_del(c->timer);
                struct api_error err = {0};
                int r = call_send(c, &err);
                if (r < 0)
                        call_done(c, r, &err);
                return;
        }
        if (vm == NULL || rt->op != NULL)
                return;
        rt->unsure = false; /* the Hello tells what the domain is */
        reconcile(v, rt, vm, p);
        if (db_generation(x->db) != gen)
                commit(x); /* a domd announcing what is known already changes nothing */
        check_reconciled(v);
}

static void on_respawn(evutil_socket_t fd, short what, void *arg)
{
        struct vmrt *rt = arg;
        struct vms *v = rt->v;
        struct db_row *vm = vm_row(v, rt->uuid);
        if (rt->domd_up || rt->op != NULL || !domd_needed(rt, vm))
                return;
        start_domd(v, rt);
}

static void domd_exited(void *arg, const char *uuid, int status)
{
        struct vms *v = arg;
        if (domd_spawn_running(v->spawner, uuid))
                return; /* a newer domd of the VM runs */
        domd_launch_settled(v->launcher, uuid);
        struct vmrt *rt = rt_get(v, uuid);
        rt->domd_up = false;
        if (rt->orphan_image != NULL) {
                /* the domd that could finish the unanswered suspend is gone */
                orphan_release(v, vm_row(v, uuid), rt, false);
                commit(v->x);
        }
        if (rt->pending != NULL) {
                start_domd(v, rt); /* the call waited for the previous domd to go */
                return;
        }
        struct db_row *vm = vm_row(v, uuid);
        if (domd_needed(rt, vm) && rt->op == NULL) {
                if (vm_is_live(vm->rec))
                        log_warnx("vm %s: its domd exited while the VM runs; starting another",
                                  uuid);
                else
                        log_info("vm %s: its last call ended unanswered; a domd is started "
                                 "to learn whether it has a domain",
                                 uuid);
                struct timeval tv = {0, RESPAWN_DELAY * 1000};
                evtimer_add(rt->respawn, &tv);
        }
}

/* ---- start-up reconciliation ---------------------------------------------------------------- */

/* Every live VM of this host whose domd has not said Hello yet. */
static size_t unreconciled(struct vms *v, bool respawn)
{
        size_t n = 0;
        for (size_t i = 0; i < db_count(v->x->db, &mclass_VM); i++) {
                struct db_row *row = db_row_at(v->x->db, &mclass_VM, i);
                struct api_VM *r = row->rec;
                if (r->is_control_domain || !vm_is_live(r))
                        continue;
                struct vmrt *rt = rt_get(v, r->uuid);
                if (rt->domd_up)
                        continue;
                n++;
                if (respawn)
                        start_domd(v, rt);
        }
        return n;
}

static void reconcile_done(struct vms *v)
{
        if (!v->reconciling)
                return;
        v->reconciling = false;
        if (v->reconcile_timer != NULL)
                event_del(v->reconcile_timer);
        if (v->reconciled != NULL)
                v->reconciled(v->reconciled_arg);
}

static void check_reconciled(struct vms *v)
{
        if (v->reconciling && unreconciled(v, false) == 0)
                reconcile_done(v);
}

static void on_reconcile_timer(evutil_socket_t fd, short what, void *arg)
{
        struct vms *v = arg;
        size_t n = unreconciled(v, true);
        if (n == 0) {
                reconcile_done(v);
                return;
        }
        /* their new domds adopt the domains or report them gone; wait for them once more */
        log_info("%zu running VM(s) without a domd: started their domds", n);
        static unsigned rounds;
        if (++rounds > 3) {
                reconcile_done(v);
                return;
        }
        struct timeval tv = {v->cfg.domd_connect_ms / 1000, (v->cfg.domd_connect_ms % 1000) * 1000};
        evtimer_add(v->reconcile_timer, &tv);
}

void vms_when_reconciled(struct xapi *x, void (*done)(void *arg), void *arg)
{
        struct vms *v = x->vms;
        if (v == NULL || unreconciled(v, false) == 0) {
                done(arg);
                return;
        }
        v->reconciled = done;
        v->reconciled_arg = arg;
        v->reconciling = true;
        unsigned ms = v->cfg.reconcile_grace_ms;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(v->reconcile_timer, &tv);
}

int vms_domd_request(struct xapi *x, const char *uuid, const struct ProtobufCMessage *body,
                     void (*cb)(int status, const struct ProtobufCMessage *reply,
                                const char *errtext, void *arg),
                     void *arg)
{
        struct vms *v = x->vms;
        if (v == NULL || x->msg == NULL)
                return -EHOSTUNREACH;
        struct vmrt *rt = rt_get(v, uuid);
        if (!rt->domd_up)
                return -EHOSTUNREACH;
        char id[MSG_IDENTITY_MAX + 1];
        identity(rt, id);
        return msg_link_request(x->msg, id, body, &ts__dom__status__descriptor, DOMD_TIMEOUT, cb,
                                arg);
}

/* ---- setup ---------------------------------------------------------------------------------- */

int vms_init(struct xapi *x, const struct vms_config *cfg)
{
        struct vms *v = calloc(1, sizeof(*v));
        if (v == NULL)
                return -ENOMEM;
        v->x = x;
        v->cfg = *cfg;
        char o_run[4200], o_state[4200], o_log[64], o_mem[64];
        snprintf(o_run, sizeof(o_run), "run_dir=%s", cfg->run_dir);
        snprintf(o_state, sizeof(o_state), "state_dir=%s", cfg->state_dir);
        snprintf(o_log, sizeof(o_log), "log_level=%s", cfg->log_level);
        snprintf(o_mem, sizeof(o_mem), "sim.host_memory=%llu",
                 (unsigned long long)cfg->sim_host_memory);
        char o_hb[64];
        snprintf(o_hb, sizeof(o_hb), "domd.heartbeat=%ums",
                 cfg->domd_heartbeat_ms ? cfg->domd_heartbeat_ms : 1000);
        char o_idle[64];
        snprintf(o_idle, sizeof(o_idle), "domd.idle_ping=%ums", cfg->domd_idle_ping_ms);
        const char *ov[] = {o_run, o_state, o_log, o_mem, o_hb, o_idle};
        struct domd_spawn_config sc = {.domd_path = cfg->domd_path,
                                       .domd_config = cfg->domd_config,
                                       .use_systemd = cfg->use_systemd,
                                       .zygote = cfg->domd_zygote && !cfg->use_systemd,
                                       .overrides = ov,
                                       .n_overrides = 6};
        int r = domd_spawner_new(x->base, &sc, domd_exited, v, &v->spawner);
        if (r < 0) {
                free(v);
                return r;
        }
        struct domd_launch_hooks hooks = {
            .wanted = launch_wanted, .started = launch_started, .arg = v};
        r = domd_launcher_new(x->base, v->spawner, LAUNCH_MAX, cfg->domd_connect_ms, &hooks,
                              &v->launcher);
        if (r < 0) {
                domd_spawner_free(v->spawner);
                free(v);
                return r;
        }
        v->reconcile_timer = evtimer_new(x->base, on_reconcile_timer, v);
        x->vms = v;
        domd_spawner_set_spares(v->spawner, cfg->domd_spares);
        if (x->msg != NULL) {
                msg_link_handle(x->msg, &ts__dom__event__descriptor, on_event, v);
                msg_link_handle(x->msg, &ts__dom__status__descriptor, on_late_status, v);
        }
        /* operations in progress died with the previous xapid (as XAPI cancels them at
         * start); allowed_operations as this xapid computes them */
        for (size_t i = 0; i < db_count(x->db, &mclass_VM); i++) {
                struct db_row *row = db_row_at(x->db, &mclass_VM, i);
                struct api_VM *vr = row->rec;
                if (vr->current_operations.n > 0) {
                        model_slot_free(mclass_VM.fields[API_VM_F_current_operations].type,
                                        &vr->current_operations);
                        db_touch(x->db, row);
                }
                update_allowed(x, row);
        }
        return 0;
}

void vms_free(struct xapi *x)
{
        struct vms *v = x->vms;
        if (v == NULL)
                return;
        for (size_t b = 0; b < RT_BUCKETS; b++) {
                struct vmrt *rt = v->buckets[b];
                while (rt != NULL) {
                        struct vmrt *next = rt->next;
                        while (rt->waiting != NULL) {
                                struct call *c = rt->waiting;
                                rt->waiting = c->next;
                                call_free(c);
                        }
                        if (rt->respawn != NULL)
                                event_free(rt->respawn);
                        free(rt->orphan_image);
                        free(rt);
                        rt = next;
                }
        }
        if (v->reconcile_timer != NULL)
                event_free(v->reconcile_timer);
        domd_launcher_free(v->launcher);
        domd_spawner_free(v->spawner);
        free(v);
        x->vms = NULL;
}
