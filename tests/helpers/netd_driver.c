/* Stands in for xapid towards a real netd, for tests and benchmarks: binds the message
 * endpoint RUNDIR/msg.sock, then for each JSON line on stdin sends a ts.net.ApplyBridges and
 * prints netd's reply as one JSON line, with the round-trip time:
 *
 *   in:  {"bridges": [{"name": "xapi1", "mtu": 1500, "ports": ["vif3.0"]}],
 *         "vlans": [{"name": "eth0.5", "parent": "eth0", "tag": 5}],
 *         "bonds": [{"name": "bond0", "mode": "lacp", "members": ["eth0"], "properties": {}}],
 *         "ipconfs": [{"ifname": "xenbr0", "mode": "static", "family": 4,
 *                      "addrs": ["10.0.0.2/24"], "gateway": "10.0.0.1"}],
 *         "down": ["eth1"],
 *         "links": [{"name": "eth0", "promisc": 1, "ethtool": {"tx": "off"}}]}
 *   out: {"reply": {"actions": 3, "errnum": 0, "message": "", "nics": 4}, "us": 812}
 *
 * {"repeat": N, "states": [A, B]} sends A, B, A, B... (2N requests, each when the previous
 * is answered) and prints one line {"bench": {"n": 2N, "us": total, "actions": sum}}.
 * It also prints {"peer": "netd", "up": 1} when netd says Hello and {"event": {...}} for each
 * LinkEvent netd sends.  EOF on stdin ends it. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "common/msg.h"
#include "proto/net.pb-c.h"

struct driver {
        struct event_base *base;
        struct msg_link *link;
        struct evbuffer *in;
        struct timespec sent;
        int pending;
        bool eof;
        json_t *rep_states; /* a repeat run: the two states, alternated */
        long rep_total, rep_sent;
        long long rep_actions;
        struct timespec rep_start;
};

static void emit(json_t *o)
{
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s ? s : "{}");
        fflush(stdout);
        free(s);
        json_decref(o);
}

static const char *str(json_t *o, const char *k)
{
        const char *v = json_string_value(json_object_get(o, k));
        return v ? v : "";
}

/* An array of strings from A (borrowed from the JSON), N its length. */
static char **strv(json_t *a, size_t *n)
{
        *n = json_array_size(a);
        char **v = calloc(*n + 1, sizeof(*v));
        for (size_t i = 0; v && i < *n; i++)
                v[i] = (char *)(json_string_value(json_array_get(a, i)) ?: "");
        return v;
}

static void send_desired(struct driver *d, json_t *j);

static long long us_since(const struct timespec *t0)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (now.tv_sec - t0->tv_sec) * 1000000LL + (now.tv_nsec - t0->tv_nsec) / 1000;
}

/* A reply within a repeat run: the next request, or the run's result. */
static bool repeat_step(struct driver *d, int status, const ProtobufCMessage *body)
{
        if (d->rep_states == NULL)
                return false;
        d->rep_sent++;
        if (status == 0)
                d->rep_actions += ((const Ts__Net__ApplyBridgesReply *)body)->actions;
        if (status == 0 && d->rep_sent < d->rep_total) {
                send_desired(d, json_array_get(d->rep_states, (size_t)(d->rep_sent % 2)));
                return true;
        }
        emit(json_pack("{s:{s:I, s:I, s:I, s:i}}", "bench", "n", (json_int_t)d->rep_sent, "us",
                       (json_int_t)us_since(&d->rep_start), "actions", (json_int_t)d->rep_actions,
                       "error", -status));
        json_decref(d->rep_states);
        d->rep_states = NULL;
        d->pending = 0;
        if (d->eof)
                event_base_loopbreak(d->base);
        return true;
}

static void on_reply(int status, const ProtobufCMessage *body, const char *errtext, void *arg)
{
        struct driver *d = arg;
        if (repeat_step(d, status, body))
                return;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long us =
            (now.tv_sec - d->sent.tv_sec) * 1000000LL + (now.tv_nsec - d->sent.tv_nsec) / 1000;
        json_t *o = json_object();
        if (status < 0) {
                json_object_set_new(o, "error", json_integer(-status));
                json_object_set_new(o, "text", json_string(errtext ? errtext : ""));
        } else {
                const Ts__Net__ApplyBridgesReply *r = (const Ts__Net__ApplyBridgesReply *)body;
                json_object_set_new(
                    o, "reply",
                    json_pack("{s:i, s:i, s:s, s:i}", "actions", r->actions, "errnum", r->errnum,
                              "message", r->message ? r->message : "", "nics", (int)r->n_nics));
        }
        json_object_set_new(o, "us", json_integer(us));
        emit(o);
        d->pending = 0;
        if (d->eof)
                event_base_loopbreak(d->base);
}

/* Builds the ApplyBridges of the JSON object J (borrowed) and sends it. */
static void send_desired(struct driver *d, json_t *j)
{
        Ts__Net__ApplyBridges m = TS__NET__APPLY_BRIDGES__INIT;
        json_t *a = json_object_get(j, "bridges");
        m.n_bridges = json_array_size(a);
        Ts__Net__Bridge *br = calloc(m.n_bridges + 1, sizeof(*br));
        m.bridges = calloc(m.n_bridges + 1, sizeof(*m.bridges));
        for (size_t i = 0; i < m.n_bridges; i++) {
                json_t *b = json_array_get(a, i);
                ts__net__bridge__init(&br[i]);
                br[i].name = (char *)str(b, "name");
                br[i].mtu = (uint32_t)json_integer_value(json_object_get(b, "mtu"));
                br[i].ports = strv(json_object_get(b, "ports"), &br[i].n_ports);
                m.bridges[i] = &br[i];
        }
        a = json_object_get(j, "vlans");
        m.n_vlans = json_array_size(a);
        Ts__Net__Vlan *vl = calloc(m.n_vlans + 1, sizeof(*vl));
        m.vlans = calloc(m.n_vlans + 1, sizeof(*m.vlans));
        for (size_t i = 0; i < m.n_vlans; i++) {
                json_t *v = json_array_get(a, i);
                ts__net__vlan__init(&vl[i]);
                vl[i].name = (char *)str(v, "name");
                vl[i].parent = (char *)str(v, "parent");
                vl[i].tag = (int32_t)json_integer_value(json_object_get(v, "tag"));
                m.vlans[i] = &vl[i];
        }
        a = json_object_get(j, "bonds");
        m.n_bonds = json_array_size(a);
        Ts__Net__Bond *bo = calloc(m.n_bonds + 1, sizeof(*bo));
        m.bonds = calloc(m.n_bonds + 1, sizeof(*m.bonds));
        size_t n_kv = 0;
        for (size_t i = 0; i < m.n_bonds; i++)
                n_kv += json_object_size(json_object_get(json_array_get(a, i), "properties"));
        Ts__Net__KeyValue *kv = calloc(n_kv + 1, sizeof(*kv));
        Ts__Net__KeyValue **kvp = calloc(n_kv + 1, sizeof(*kvp));
        size_t used = 0;
        for (size_t i = 0; i < m.n_bonds; i++) {
                json_t *b = json_array_get(a, i);
                ts__net__bond__init(&bo[i]);
                bo[i].name = (char *)str(b, "name");
                bo[i].mode = (char *)str(b, "mode");
                bo[i].members = strv(json_object_get(b, "members"), &bo[i].n_members);
                bo[i].properties = &kvp[used];
                const char *k;
                json_t *v;
                json_object_foreach(json_object_get(b, "properties"), k, v)
                {
                        ts__net__key_value__init(&kv[used]);
                        kv[used].key = (char *)k;
                        kv[used].value = (char *)(json_string_value(v) ?: "");
                        kvp[used] = &kv[used];
                        used++;
                        bo[i].n_properties++;
                }
                m.bonds[i] = &bo[i];
        }
        a = json_object_get(j, "ipconfs");
        m.n_ipconfs = json_array_size(a);
        Ts__Net__IpConf *ic = calloc(m.n_ipconfs + 1, sizeof(*ic));
        m.ipconfs = calloc(m.n_ipconfs + 1, sizeof(*m.ipconfs));
        for (size_t i = 0; i < m.n_ipconfs; i++) {
                json_t *c = json_array_get(a, i);
                ts__net__ip_conf__init(&ic[i]);
                ic[i].ifname = (char *)str(c, "ifname");
                const char *mode = str(c, "mode");
                ic[i].mode = strcmp(mode, "static") == 0 ? TS__NET__IP_CONF__MODE__STATIC
                             : strcmp(mode, "dhcp") == 0 ? TS__NET__IP_CONF__MODE__DHCP
                                                         : TS__NET__IP_CONF__MODE__NONE;
                ic[i].family = (int32_t)json_integer_value(json_object_get(c, "family"));
                ic[i].addrs = strv(json_object_get(c, "addrs"), &ic[i].n_addrs);
                ic[i].gateway = (char *)str(c, "gateway");
                m.ipconfs[i] = &ic[i];
        }
        m.down = strv(json_object_get(j, "down"), &m.n_down);
        a = json_object_get(j, "links");
        m.n_links = json_array_size(a);
        Ts__Net__LinkConf *lc = calloc(m.n_links + 1, sizeof(*lc));
        m.links = calloc(m.n_links + 1, sizeof(*m.links));
        size_t n_eth = 0;
        for (size_t i = 0; i < m.n_links; i++)
                n_eth += json_object_size(json_object_get(json_array_get(a, i), "ethtool"));
        Ts__Net__KeyValue *ekv = calloc(n_eth + 1, sizeof(*ekv));
        Ts__Net__KeyValue **ekvp = calloc(n_eth + 1, sizeof(*ekvp));
        size_t eused = 0;
        for (size_t i = 0; i < m.n_links; i++) {
                json_t *l = json_array_get(a, i);
                ts__net__link_conf__init(&lc[i]);
                lc[i].name = (char *)str(l, "name");
                lc[i].mtu = (uint32_t)json_integer_value(json_object_get(l, "mtu"));
                json_t *p = json_object_get(l, "promisc");
                lc[i].promisc = p ? (int32_t)json_integer_value(p) : -1;
                lc[i].ethtool = &ekvp[eused];
                const char *k;
                json_t *v;
                json_object_foreach(json_object_get(l, "ethtool"), k, v)
                {
                        ts__net__key_value__init(&ekv[eused]);
                        ekv[eused].key = (char *)k;
                        ekv[eused].value = (char *)(json_string_value(v) ?: "");
                        ekvp[eused] = &ekv[eused];
                        eused++;
                        lc[i].n_ethtool++;
                }
                m.links[i] = &lc[i];
        }
        clock_gettime(CLOCK_MONOTONIC, &d->sent);
        int r = msg_link_request(d->link, "netd", &m.base,
                                 &ts__net__apply_bridges_reply__descriptor, 30000, on_reply, d);
        if (r < 0) {
                emit(json_pack("{s:i, s:s}", "error", -r, "text", strerror(-r)));
                json_decref(d->rep_states); /* a repeat run ends here */
                d->rep_states = NULL;
        } else {
                d->pending = 1;
        }
        for (size_t i = 0; i < m.n_bridges; i++)
                free(br[i].ports);
        for (size_t i = 0; i < m.n_bonds; i++)
                free(bo[i].members);
        for (size_t i = 0; i < m.n_ipconfs; i++)
                free(ic[i].addrs);
        free(br);
        free(m.bridges);
        free(vl);
        free(m.vlans);
        free(bo);
        free(m.bonds);
        free(kv);
        free(kvp);
        free(ic);
        free(m.ipconfs);
        free(m.down);
        free(lc);
        free(ekv);
        free(ekvp);
        free(m.links);
}

static void send_line(struct driver *d, const char *line)
{
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        if (!json_is_object(j)) {
                emit(json_pack("{s:s}", "error", jerr.text));
                json_decref(j);
                return;
        }
        json_t *states = json_object_get(j, "states");
        long n = (long)json_integer_value(json_object_get(j, "repeat"));
        if (n > 0 && json_array_size(states) == 2) {
                /* {"repeat": N, "states": [A, B]}: A, B, A, B... 2N requests back to back,
                 * one result line (a benchmark without this process's pipe in the loop) */
                d->rep_states = json_incref(states);
                d->rep_total = 2 * n;
                d->rep_sent = 0;
                d->rep_actions = 0;
                clock_gettime(CLOCK_MONOTONIC, &d->rep_start);
                send_desired(d, json_array_get(states, 0));
        } else {
                send_desired(d, j);
        }
        json_decref(j);
}

static void on_stdin(evutil_socket_t fd, short what, void *arg);

/* One line at a time: the next is read once netd answered the previous one. */
static void next_line(struct driver *d)
{
        while (!d->pending) {
                size_t len;
                char *line = evbuffer_readln(d->in, &len, EVBUFFER_EOL_LF);
                if (line == NULL)
                        break;
                if (len > 0)
                        send_line(d, line);
                free(line);
        }
        if (d->eof && !d->pending)
                event_base_loopbreak(d->base);
}

static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
        struct driver *d = arg;
        int n = evbuffer_read(d->in, fd, 65536);
        if (n <= 0)
                d->eof = true;
        next_line(d);
}

static void on_peer(struct msg_link *l, const struct msg_peer_info *p, int up, void *arg)
{
        emit(json_pack("{s:s, s:i}", "peer", p->identity, "up", up));
}

static int on_link_event(struct msg_link *l, const struct msg_origin *from,
                         const ProtobufCMessage *body, void *arg)
{
        const Ts__Net__LinkEvent *e = (const Ts__Net__LinkEvent *)body;
        emit(json_pack("{s:{s:s, s:b, s:b, s:i, s:I, s:i, s:b, s:s}}", "event", "device", e->device,
                       "carrier", e->carrier, "up", e->up, "mtu", (int)e->mtu, "speed",
                       (json_int_t)e->speed, "duplex", (int)e->duplex, "deleted", e->deleted, "mac",
                       e->mac));
        return 0;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
        next_line(arg);
}

int main(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "usage: %s RUNDIR\n", argv[0]);
                return 2;
        }
        char path[512];
        snprintf(path, sizeof(path), "%s/msg.sock", argv[1]);
        struct driver d = {0};
        d.base = event_base_new();
        d.in = evbuffer_new();
        /* $TS_PEER_TIMEOUT_MS: longer under QEMU's TCG (tests/kern), where netd stalls */
        const char *pt = getenv("TS_PEER_TIMEOUT_MS");
        struct msg_server_config sc = {.path = path,
                                       .peer_timeout_ms = pt && atoi(pt) > 0 ? atoi(pt) : 3000};
        if (d.base == NULL || d.in == NULL || msg_server_new(d.base, &sc, &d.link) < 0) {
                fprintf(stderr, "cannot bind %s\n", path);
                return 1;
        }
        msg_link_on_peer(d.link, on_peer, &d);
        msg_link_handle(d.link, &ts__net__link_event__descriptor, on_link_event, &d);
        struct event *in = event_new(d.base, 0, EV_READ | EV_PERSIST, on_stdin, &d);
        struct event *tick = event_new(d.base, -1, EV_PERSIST, on_tick, &d);
        struct timeval tv = {0, 20000};
        event_add(in, NULL);
        event_add(tick, &tv);
        emit(json_pack("{s:b}", "ready", 1));
        event_base_dispatch(d.base);
        event_free(in);
        event_free(tick);
        msg_link_free(d.link);
        evbuffer_free(d.in);
        event_base_free(d.base);
        return 0;
}
