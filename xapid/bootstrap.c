/* First start and every start: the pool, this host with facts read from the machine, its
 * host_cpus and host_metrics, and the control domain (see bootstrap.h). */
#include "xapid/bootstrap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "api/model_gen.h"
#include "version.h"
#include "common/log.h"
#include "common/uuid.h"
#include "xapid/db.h"
#include "xapid/xapi.h"

LOG_MODULE(bootstrap)

/* XAPI's API version for the release xenapi.json describes (26.x: 2.21). */
#define API_VERSION_MAJOR 2
#define API_VERSION_MINOR 21
#define API_VENDOR        "XenSource"

static void *field(const struct mclass *c, void *rec, const char *name)
{
        int i = model_field_index(c, name);
        if (i < 0) {
                log_errx("no field %s.%s in the IDL", c->name, name);
                abort(); /* the IDL and this file disagree: a build-time mistake */
        }
        return model_slot(rec, &c->fields[i]);
}

static void put_str(const struct mclass *c, void *rec, const char *name, const char *v)
{
        char **slot = field(c, rec, name);
        char *d = strdup(v != NULL ? v : "");
        if (d == NULL)
                abort();
        free(*slot);
        *slot = d;
}

static void put_int(const struct mclass *c, void *rec, const char *name, int64_t v)
{
        *(int64_t *)field(c, rec, name) = v;
}

static void put_kv(const struct mclass *c, void *rec, const char *name, const char *k,
                   const char *v)
{
        const struct mtype *t = c->fields[model_field_index(c, name)].type;
        mmap_put(t, field(c, rec, name), &k, &v);
}

static void put_kv_int(const struct mclass *c, void *rec, const char *name, const char *k,
                       long long v)
{
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", v);
        put_kv(c, rec, name, k, buf);
}

/* /proc/cpuinfo facts of the first CPU, and the count. */
struct cpuinfo {
        int count;
        char vendor[64], model_name[128], family[16], model[16], stepping[16], flags[2048];
        char speed[32];
};

static void copy_value(char *dst, size_t len, const char *line)
{
        const char *colon = strchr(line, ':');
        if (colon == NULL)
                return;
        colon++;
        while (*colon == ' ' || *colon == '\t')
                colon++;
        snprintf(dst, len, "%.*s", (int)strcspn(colon, "\n"), colon);
}

static void read_cpuinfo(struct cpuinfo *ci)
{
        memset(ci, 0, sizeof(*ci));
        FILE *f = fopen("/proc/cpuinfo", "re");
        char line[4096];
        while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
                if (strncmp(line, "processor", 9) == 0) {
                        ci->count++;
                        continue;
                }
                if (ci->count > 1)
                        continue; /* the first CPU describes them all */
                if (strncmp(line, "vendor_id", 9) == 0)
                        copy_value(ci->vendor, sizeof(ci->vendor), line);
                else if (strncmp(line, "model name", 10) == 0)
                        copy_value(ci->model_name, sizeof(ci->model_name), line);
                else if (strncmp(line, "cpu family", 10) == 0)
                        copy_value(ci->family, sizeof(ci->family), line);
                else if (strncmp(line, "model\t", 6) == 0)
                        copy_value(ci->model, sizeof(ci->model), line);
                else if (strncmp(line, "stepping", 8) == 0)
                        copy_value(ci->stepping, sizeof(ci->stepping), line);
                else if (strncmp(line, "flags", 5) == 0)
                        copy_value(ci->flags, sizeof(ci->flags), line);
                else if (strncmp(line, "cpu MHz", 7) == 0)
                        copy_value(ci->speed, sizeof(ci->speed), line);
        }
        if (f != NULL)
                fclose(f);
        if (ci->count == 0)
                ci->count = (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static int64_t meminfo_kib(const char *key)
{
        FILE *f = fopen("/proc/meminfo", "re");
        char line[256];
        int64_t v = 0;
        size_t klen = strlen(key);
        while (f != NULL && fgets(line, sizeof(line), f) != NULL)
                if (strncmp(line, key, klen) == 0 && line[klen] == ':')
                        v = strtoll(line + klen + 1, NULL, 10);
        if (f != NULL)
                fclose(f);
        return v;
}

/* The first non-loopback IPv4 address that is up, else "". */
static void primary_address(char *out, size_t len)
{
        struct ifaddrs *ifa = NULL;
        out[0] = '\0';
        if (getifaddrs(&ifa) < 0)
                return;
        for (struct ifaddrs *i = ifa; i != NULL; i = i->ifa_next) {
                if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
                    (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
                        continue;
                inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out,
                          (socklen_t)len);
                break;
        }
        freeifaddrs(ifa);
}

/* This host's uuid survives restarts in STATE_DIR/host-uuid. */
static int host_uuid(const char *state_dir, char uuid[UUID_STR_LEN])
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/host-uuid", state_dir);
        FILE *f = fopen(path, "re");
        if (f != NULL) {
                char buf[64] = "";
                bool ok = fgets(buf, sizeof(buf), f) != NULL;
                fclose(f);
                buf[strcspn(buf, "\n")] = '\0';
                if (ok && uuid_is_valid(buf)) {
                        snprintf(uuid, UUID_STR_LEN, "%s", buf);
                        return 0;
                }
                log_warnx("%s does not hold a uuid; making a new one", path);
        }
        uuid_generate_str(uuid);
        char tmp[4200];
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        f = fopen(tmp, "we");
        if (f == NULL)
                return -errno;
        fprintf(f, "%s\n", uuid);
        if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
                int r = -errno;
                fclose(f);
                return r;
        }
        fclose(f);
        return rename(tmp, path) < 0 ? -errno : 0;
}

static struct db_row *first_row(struct db *db, const struct mclass *c)
{
        return db_count(db, c) > 0 ? db_row_at(db, c, 0) : NULL;
}

static void set_ref(char **slot, const char *ref)
{
        char *d = strdup(ref);
        if (d == NULL)
                abort();
        free(*slot);
        *slot = d;
}

static void fill_host_facts(struct api_host *h, const struct bootstrap_facts *facts,
                            const struct cpuinfo *ci, const char *hostname, const char *address)
{
        const struct mclass *c = &mclass_host;
        struct utsname u;
        uname(&u);
        put_str(c, h, "hostname", hostname);
        put_str(c, h, "address", address);
        put_int(c, h, "API_version_major", API_VERSION_MAJOR);
        put_int(c, h, "API_version_minor", API_VERSION_MINOR);
        put_str(c, h, "API_version_vendor", API_VENDOR);
        put_kv(c, h, "software_version", "product_brand", "toolstack");
        put_kv(c, h, "software_version", "product_version", TS_VERSION);
        put_kv(c, h, "software_version", "build_number", TS_GIT_REV);
        put_kv(c, h, "software_version", "hostname", hostname);
        put_kv(c, h, "software_version", "linux", u.release);
        put_kv(c, h, "software_version", "hypervisor", facts->hypervisor);
        put_kv(c, h, "software_version", "xen", facts->hypervisor_version);
        if (facts->hv_backend != NULL)
                put_kv(c, h, "software_version", "hv_backend", facts->hv_backend);
        put_kv_int(c, h, "cpu_info", "cpu_count", ci->count);
        put_kv_int(c, h, "cpu_info", "socket_count", 1);
        put_kv(c, h, "cpu_info", "vendor", ci->vendor);
        put_kv(c, h, "cpu_info", "speed", ci->speed);
        put_kv(c, h, "cpu_info", "modelname", ci->model_name);
        put_kv(c, h, "cpu_info", "family", ci->family);
        put_kv(c, h, "cpu_info", "model", ci->model);
        put_kv(c, h, "cpu_info", "stepping", ci->stepping);
        put_kv(c, h, "cpu_info", "flags", ci->flags);
}

static void make_host_cpus(struct db *db, const char *host_ref, const struct cpuinfo *ci)
{
        /* recreated each start so a changed machine shows its real CPUs */
        for (size_t i = db_count(db, &mclass_host_cpu); i-- > 0;) {
                struct db_row *row = db_row_at(db, &mclass_host_cpu, i);
                if (strcmp(((struct api_host_cpu *)row->rec)->host, host_ref) == 0)
                        db_delete(db, row);
        }
        for (int n = 0; n < ci->count; n++) {
                struct api_host_cpu *cpu = model_record_new(&mclass_host_cpu);
                const struct mclass *c = &mclass_host_cpu;
                set_ref(&cpu->host, host_ref);
                put_int(c, cpu, "number", n);
                put_str(c, cpu, "vendor", ci->vendor);
                put_int(c, cpu, "speed", (int64_t)atof(ci->speed));
                put_str(c, cpu, "modelname", ci->model_name);
                put_int(c, cpu, "family", atoll(ci->family));
                put_int(c, cpu, "model", atoll(ci->model));
                put_str(c, cpu, "stepping", ci->stepping);
                put_str(c, cpu, "flags", ci->flags);
                db_insert(db, c, NULL, cpu, NULL);
        }
}

static const char *ensure_metrics(struct db *db, struct api_host *h,
                                  const struct bootstrap_facts *facts)
{
        struct db_row *m = db_get(db, &mclass_host_metrics, h->metrics);
        if (m == NULL) {
                void *rec = model_record_new(&mclass_host_metrics);
                db_insert(db, &mclass_host_metrics, NULL, rec, &m);
                set_ref(&h->metrics, m->ref);
        }
        struct api_host_metrics *hm = m->rec;
        hm->memory_total = facts->memory_total;
        hm->memory_free = facts->memory_free;
        hm->live = true;
        hm->last_updated = time(NULL);
        db_touch(db, m);
        return m->ref;
}

static void ensure_control_domain(struct db *db, const char *host_ref, const char *hostname,
                                  const struct cpuinfo *ci, int64_t dom0_memory)
{
        for (size_t i = 0; i < db_count(db, &mclass_VM); i++) {
                struct api_VM *vm = db_row_at(db, &mclass_VM, i)->rec;
                if (vm->is_control_domain && strcmp(vm->resident_on, host_ref) == 0)
                        return;
        }
        struct api_VM *vm = model_record_new(&mclass_VM);
        const struct mclass *c = &mclass_VM;
        char label[300];
        snprintf(label, sizeof(label), "Control domain on host: %s", hostname);
        put_str(c, vm, "name_label", label);
        put_str(c, vm, "name_description", "The domain which manages physical devices");
        vm->is_control_domain = true;
        vm->power_state = API_VM_POWER_STATE_RUNNING;
        set_ref(&vm->resident_on, host_ref);
        vm->domid = 0;
        vm->memory_static_max = vm->memory_dynamic_max = vm->memory_dynamic_min =
            vm->memory_static_min = vm->memory_target = dom0_memory;
        vm->VCPUs_max = vm->VCPUs_at_startup = ci->count;
        struct db_row *mrow;
        void *metrics = model_record_new(&mclass_VM_metrics);
        ((struct api_VM_metrics *)metrics)->memory_actual = dom0_memory;
        ((struct api_VM_metrics *)metrics)->VCPUs_number = ci->count;
        ((struct api_VM_metrics *)metrics)->start_time = time(NULL);
        db_insert(db, &mclass_VM_metrics, NULL, metrics, &mrow);
        set_ref(&vm->metrics, mrow->ref);
        db_insert(db, c, NULL, vm, NULL);
        log_info("created the control domain record");
}

int bootstrap(struct xapi *x, const struct bootstrap_facts *facts)
{
        struct db *db = x->db;
        char uuid[UUID_STR_LEN];
        int r = host_uuid(facts->state_dir, uuid);
        if (r < 0) {
                log_errx("cannot keep this host's uuid in %s: %s", facts->state_dir, strerror(-r));
                return r;
        }
        struct cpuinfo ci;
        read_cpuinfo(&ci);
        if (facts->nr_cpus > 0) /* dom0 sees only its own vCPUs */
                ci.count = (int)facts->nr_cpus;
        char hostname[256] = "localhost", address[64];
        gethostname(hostname, sizeof(hostname) - 1);
        primary_address(address, sizeof(address));

        struct db_row *hrow = db_get_by_uuid(db, &mclass_host, uuid);
        if (hrow == NULL) {
                struct api_host *h = model_record_new(&mclass_host);
                put_str(&mclass_host, h, "uuid", uuid);
                put_str(&mclass_host, h, "name_label", hostname);
                h->enabled = true;
                r = db_insert(db, &mclass_host, NULL, h, &hrow);
                if (r < 0)
                        return r;
                log_info("first start: host %s (%s)", uuid, hostname);
        }
        struct api_host *h = hrow->rec;
        fill_host_facts(h, facts, &ci, hostname, address);
        ensure_metrics(db, h, facts);
        h->memory_overhead = 0;
        db_touch(db, hrow);
        make_host_cpus(db, hrow->ref, &ci);
        ensure_control_domain(db, hrow->ref, hostname, &ci, facts->dom0_memory);

        struct db_row *prow = first_row(db, &mclass_pool);
        if (prow == NULL) {
                struct api_pool *p = model_record_new(&mclass_pool);
                set_ref(&p->master, hrow->ref);
                r = db_insert(db, &mclass_pool, NULL, p, &prow);
                if (r < 0)
                        return r;
        }
        free(x->host_ref);
        free(x->pool_ref);
        x->host_ref = strdup(hrow->ref);
        x->pool_ref = strdup(prow->ref);
        return x->host_ref != NULL && x->pool_ref != NULL ? 0 : -ENOMEM;
}

void bootstrap_facts_from_machine(struct bootstrap_facts *f, const char *state_dir)
{
        memset(f, 0, sizeof(*f));
        f->state_dir = state_dir;
        f->memory_total = meminfo_kib("MemTotal") * 1024;
        f->memory_free = meminfo_kib("MemAvailable") * 1024;
        f->dom0_memory = f->memory_total;
        f->hypervisor = "none";
        f->hypervisor_version = "";
}
