/* Checkpoints (docs/checkpoint.md): a 64-byte header (magic, version, flags,
 * sizes), the canonical config text, the layout, the parameters, optionally the
 * training state, and a CRC-32 over everything before it. Every field is
 * written byte by byte in little-endian order, so the file is the same on any
 * host. Loading reads the whole file, checks magic, version, size and checksum
 * before it looks at anything else, then checks every field against the model
 * the config builds, and only then changes the model. */
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char MAGIC[8] = { 'V', 'A', 'E', '-', 'C', 'K', 'P', 'T' };
enum { HEADER = 64, FLAG_STATE = 1, MAX_BLOCKS = 6 * (2 * VAE_MAX_HIDDEN + 1) + 2 };
#define STREAM_BYTES (4 * 8 + 4 + 4)

/* ---------- little-endian bytes ---------- */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static void put_f32s(unsigned char *p, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        put_u32(p + 4 * i, u);
    }
}
static void get_f32s(float *v, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = get_u32(p + 4 * i);
        memcpy(&v[i], &u, 4);
    }
}

/* CRC-32 (zlib's, the gzip polynomial) over n bytes, in chunks zlib's uInt takes. */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

/* ---------- atomic write ---------- */

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Temporaries of path that a killed writer left ("path.tmp.<pid>.<n>" whose
 * process is gone) are removed by the next save. */
/* Whether pid runs: /proc/PID/stat exists and is not a zombie's (a killed
 * process nobody reaped yet); without /proc, kill(pid, 0). */
static int process_alive(long pid)
{
    char p[64], buf[512];
    snprintf(p, sizeof p, "/proc/%ld/stat", pid);
    FILE *f = fopen(p, "r");
    if (!f) return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *close_paren = strrchr(buf, ')');
    return !(close_paren && close_paren[1] == ' ' && (close_paren[2] == 'Z' || close_paren[2] == 'X'));
}

static void remove_stale(const char *dir, const char *path)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    size_t bl = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, base, bl) || strncmp(e->d_name + bl, ".tmp.", 5)) continue;
        char *end;
        long pid = strtol(e->d_name + bl + 5, &end, 10);
        if (end == e->d_name + bl + 5 || *end != '.' || pid <= 0 || pid == (long)getpid()) continue;
        if (process_alive(pid)) continue;
        char *full = malloc(strlen(dir) + strlen(e->d_name) + 2);
        if (!full) break;
        sprintf(full, "%s/%s", dir, e->d_name);
        unlink(full);
        free(full);
    }
    closedir(d);
}

/* Temporary in path's directory (unique: pid and a counter, O_EXCL), fsync,
 * rename over path, fsync of the directory. On failure the temporary is
 * removed and path is untouched. */
static int write_atomic(const char *path, const unsigned char *buf, size_t n, vae_error *err)
{
    static unsigned counter;
    size_t len = strlen(path);
    char *tmp = malloc(len + 64), *dir = malloc(len + 2);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return vae_fail(err, "checkpoint '%s': out of memory", path);
    }
    snprintf(tmp, len + 64, "%s.tmp.%ld.%u", path, (long)getpid(), counter++);
    const char *slash = strrchr(path, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == path) strcpy(dir, "/");
    else {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = 0;
    }
    int rc = VAE_FAIL;
    remove_stale(dir, path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        vae_fail(err, "checkpoint '%s': cannot create a temporary in '%s': %s", path, dir,
                 strerror(errno));
        goto out;
    }
    if (write_all(fd, buf, n) || fsync(fd)) {
        vae_fail(err, "checkpoint '%s': writing failed: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd)) {
        vae_fail(err, "checkpoint '%s': writing failed: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path)) {
        vae_fail(err, "checkpoint '%s': cannot rename the temporary into place: %s", path,
                 strerror(errno));
        unlink(tmp);
        goto out;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { /* the rename is durable once the directory is */
        if (fsync(dfd) && errno != EINVAL) {
            vae_fail(err, "checkpoint '%s': fsync of '%s' failed: %s", path, dir, strerror(errno));
            close(dfd);
            goto out;
        }
        close(dfd);
    }
    rc = VAE_OK;
out:
    free(tmp);
    free(dir);
    return rc;
}

/* ---------- save ---------- */

int vae_model_save(vae_model *m, const char *path, int with_state,
                   const vae_checkpoint_extra *extra, vae_error *err)
{
    const vae_train_state *st = vae_model_state(m);
    if (with_state && st->step != 0)
        return vae_fail(err, "checkpoint '%s': the training state can only be saved between "
                             "epochs (at step %d of epoch %d)", path, st->step, st->epoch + 1);
    if (with_state && st->partial)
        return vae_fail(err, "checkpoint '%s': epoch %d was abandoned part-way, so the training "
                             "state is no epoch boundary; complete an epoch first", path,
                        st->epoch + 1);
    size_t clen = vae_config_text(vae_model_config(m), NULL, 0);
    const char *ttext = extra && extra->train_text ? extra->train_text : "";
    size_t tlen = strlen(ttext), ulen = extra && extra->user ? extra->user_len : 0;
    size_t blocks[MAX_BLOCKS], n;
    int nb = vae_model_layout(m, blocks, MAX_BLOCKS);
    float *params = vae_model_params(m, &n), *m1, *m2;
    vae_model_adam(m, &m1, &m2);
    if (clen > UINT32_MAX || tlen > UINT32_MAX || ulen > UINT32_MAX || nb > MAX_BLOCKS)
        return vae_fail(err, "checkpoint '%s': a section is too large", path);
    size_t order_n = with_state && st->order ? (size_t)st->order_n : 0;
    size_t total = HEADER + clen + tlen + ulen + 8 * (size_t)nb + 4 * n;
    if (with_state) total += 8 * n + 8 + 4 + 4 + (size_t)VAE_STREAM_COUNT * STREAM_BYTES + 4 * order_n;
    total += 4;
    unsigned char *buf = calloc(1, total);
    if (!buf) return vae_fail(err, "checkpoint '%s': out of memory for %zu bytes", path, total);
    unsigned char *p = buf;
    memcpy(p, MAGIC, 8);
    put_u32(p + 8, VAE_CHECKPOINT_VERSION);
    put_u32(p + 12, with_state ? FLAG_STATE : 0);
    put_u64(p + 16, total);
    put_u64(p + 24, n);
    put_u32(p + 32, (uint32_t)nb);
    put_u32(p + 36, (uint32_t)clen);
    put_u32(p + 40, (uint32_t)tlen);
    put_u32(p + 44, (uint32_t)ulen);
    put_u32(p + 48, with_state ? VAE_STREAM_COUNT : 0);
    put_u32(p + 52, (uint32_t)order_n);
    p += HEADER;
    char *ctext = malloc(clen + 1);
    if (!ctext) {
        free(buf);
        return vae_fail(err, "checkpoint '%s': out of memory", path);
    }
    vae_config_text(vae_model_config(m), ctext, clen + 1);
    memcpy(p, ctext, clen);
    free(ctext);
    p += clen;
    memcpy(p, ttext, tlen);
    p += tlen;
    if (ulen) memcpy(p, extra->user, ulen);
    p += ulen;
    for (int i = 0; i < nb; i++, p += 8) put_u64(p, blocks[i]);
    put_f32s(p, params, n);
    p += 4 * n;
    if (with_state) {
        put_f32s(p, m1, n);
        p += 4 * n;
        put_f32s(p, m2, n);
        p += 4 * n;
        put_u64(p, (uint64_t)st->adam_t);
        put_u32(p + 8, (uint32_t)st->epoch);
        put_u32(p + 12, (uint32_t)st->step);
        p += 16;
        for (int s = 0; s < VAE_STREAM_COUNT; s++, p += STREAM_BYTES) {
            for (int k = 0; k < 4; k++) put_u64(p + 8 * k, st->rng[s].s[k]);
            put_u32(p + 32, (uint32_t)st->rng[s].has_spare);
            put_f32s(p + 36, &st->rng[s].spare, 1);
        }
        for (size_t i = 0; i < order_n; i++, p += 4) put_u32(p, (uint32_t)st->order[i]);
    }
    put_u32(p, crc32_of(buf, total - 4));
    int rc = write_atomic(path, buf, total, err);
    free(buf);
    return rc;
}

/* ---------- load ---------- */

void vae_checkpoint_info_free(vae_checkpoint_info *info)
{
    if (!info) return;
    free(info->train_text);
    free(info->user);
    memset(info, 0, sizeof *info);
}

/* A checked, not yet applied checkpoint: views into the file's bytes. */
typedef struct parsed {
    uint32_t flags;
    uint64_t n;
    uint32_t nb, clen, tlen, ulen, n_streams, order_n;
    const char *ctext, *ttext, *user;
    const unsigned char *blocks, *params, *state;
} parsed;

/* Magic, version, size, checksum and every length, before anything is used. */
static int parse(const unsigned char *buf, size_t size, const char *name, parsed *f,
                 vae_error *err)
{
    memset(f, 0, sizeof *f);
    if (size >= 8 && memcmp(buf, MAGIC, 8))
        return vae_fail(err, "checkpoint '%s': not a checkpoint (wrong magic)", name);
    if (size < 12)
        return vae_fail(err, "checkpoint '%s': truncated (%zu bytes, the header alone is %d)",
                        name, size, HEADER);
    uint32_t version = get_u32(buf + 8);
    if (version > VAE_CHECKPOINT_VERSION)
        return vae_fail(err, "checkpoint '%s': format version %u is newer than this build "
                             "reads (%d)", name, version, VAE_CHECKPOINT_VERSION);
    if (version == 0) return vae_fail(err, "checkpoint '%s': format version 0 is invalid", name);
    if (size < HEADER + 4)
        return vae_fail(err, "checkpoint '%s': truncated (%zu bytes, the header alone is %d)",
                        name, size, HEADER);
    uint64_t total = get_u64(buf + 16);
    if (total != size)
        return vae_fail(err, "checkpoint '%s': %s (the header says %llu bytes, the file has "
                             "%zu)", name, total > size ? "truncated" : "wrong size",
                        (unsigned long long)total, size);
    uint32_t want = get_u32(buf + size - 4), got = crc32_of(buf, size - 4);
#ifndef VAE_CHECKPOINT_FUZZ /* the fuzzer explores past the checksum */
    if (want != got)
        return vae_fail(err, "checkpoint '%s': checksum mismatch (CRC-32 %08x stored, %08x "
                             "computed): the file is damaged", name, want, got);
#else
    (void)want;
    (void)got;
#endif
    f->flags = get_u32(buf + 12);
    f->n = get_u64(buf + 24);
    f->nb = get_u32(buf + 32);
    f->clen = get_u32(buf + 36);
    f->tlen = get_u32(buf + 40);
    f->ulen = get_u32(buf + 44);
    f->n_streams = get_u32(buf + 48);
    f->order_n = get_u32(buf + 52);
    if (f->flags & ~(uint32_t)FLAG_STATE)
        return vae_fail(err, "checkpoint '%s': unknown flags %#x", name, f->flags);
    int st = f->flags & FLAG_STATE;
    if (f->nb > MAX_BLOCKS)
        return vae_fail(err, "checkpoint '%s': %u parameter blocks (at most %d)", name, f->nb,
                        MAX_BLOCKS);
    if (st && f->n_streams != VAE_STREAM_COUNT)
        return vae_fail(err, "checkpoint '%s': %u RNG streams (this build has %d)", name,
                        f->n_streams, VAE_STREAM_COUNT);
    if (!st && (f->n_streams || f->order_n))
        return vae_fail(err, "checkpoint '%s': state sizes without a state", name);
    /* every section's size, in 128 bits' worth of care: each term is bounded */
    uint64_t body = size - HEADER - 4, need = (uint64_t)f->clen + f->tlen + f->ulen + 8ull * f->nb;
    if (f->n > body / 4)
        return vae_fail(err, "checkpoint '%s': %llu parameters do not fit in %zu bytes", name,
                        (unsigned long long)f->n, size);
    need += 4 * f->n;
    if (st) need += 8 * f->n + 16 + (uint64_t)f->n_streams * STREAM_BYTES + 4ull * f->order_n;
    if (need != body)
        return vae_fail(err, "checkpoint '%s': the sections add up to %llu bytes, the body has "
                             "%llu", name, (unsigned long long)need, (unsigned long long)body);
    const unsigned char *p = buf + HEADER;
    f->ctext = (const char *)p;
    p += f->clen;
    f->ttext = (const char *)p;
    p += f->tlen;
    f->user = (const char *)p;
    p += f->ulen;
    f->blocks = p;
    p += 8ull * f->nb;
    f->params = p;
    p += 4 * f->n;
    f->state = st ? p : NULL;
    if (memchr(f->ctext, 0, f->clen) || memchr(f->ttext, 0, f->tlen))
        return vae_fail(err, "checkpoint '%s': a NUL byte in the config text", name);
    return VAE_OK;
}

void vae_text_difference(const char *a, const char *b, const char *first, const char *second,
                         char *out, size_t len)
{
    while (*a || *b) {
        size_t la = strcspn(a, " "), lb = strcspn(b, " ");
        if (la != lb || memcmp(a, b, la)) {
            snprintf(out, len, "'%.*s' %s, '%.*s' %s", (int)(la > 200 ? 200 : la), a, first,
                     (int)(lb > 200 ? 200 : lb), b, second);
            return;
        }
        a += la + (a[la] == ' ');
        b += lb + (b[lb] == ' ');
    }
    snprintf(out, len, "(no difference)");
}

/* Checks everything in f against m (built from the same config or given) and
 * copies it in; the model is written only after every check passed. */
static int apply(vae_model *m, const parsed *f, const char *name, vae_checkpoint_info *info,
                 vae_error *err)
{
    size_t clen = vae_config_text(vae_model_config(m), NULL, 0);
    char *ctext = malloc(clen + 1);
    if (!ctext) return vae_fail(err, "checkpoint '%s': out of memory", name);
    vae_config_text(vae_model_config(m), ctext, clen + 1);
    if (clen != f->clen || memcmp(ctext, f->ctext, clen)) {
        char *ft = malloc((size_t)f->clen + 1);
        char diff[512] = "";
        if (ft) {
            memcpy(ft, f->ctext, f->clen);
            ft[f->clen] = 0;
            vae_text_difference(ft, ctext, "in the file", "in the model", diff, sizeof diff);
        }
        free(ft);
        free(ctext);
        return vae_fail(err, "checkpoint '%s': config mismatch: %s", name, diff);
    }
    free(ctext);
    size_t n, blocks[MAX_BLOCKS];
    float *params = vae_model_params(m, &n), *m1, *m2;
    vae_model_adam(m, &m1, &m2);
    if (f->n != n)
        return vae_fail(err, "checkpoint '%s': parameter count mismatch (%llu in the file, the "
                             "model has %zu)", name, (unsigned long long)f->n, n);
    int nb = vae_model_layout(m, blocks, MAX_BLOCKS);
    if ((uint32_t)nb != f->nb)
        return vae_fail(err, "checkpoint '%s': layout mismatch (%u blocks in the file, the "
                             "model has %d)", name, f->nb, nb);
    for (int i = 0; i < nb; i++)
        if (get_u64(f->blocks + 8 * i) != blocks[i])
            return vae_fail(err, "checkpoint '%s': layout mismatch at block %d (%llu "
                                 "parameters in the file, the model has %zu)", name, i + 1,
                            (unsigned long long)get_u64(f->blocks + 8 * i), blocks[i]);
    for (size_t i = 0; i < n; i++) {
        float v;
        get_f32s(&v, f->params + 4 * i, 1);
        if (!isfinite(v))
            return vae_fail(err, "checkpoint '%s': parameter %zu is not finite", name, i + 1);
    }
    int *order = NULL;
    int64_t adam_t = 0;
    int epoch = 0, step = 0;
    const unsigned char *s = f->state;
    if (s) {
        adam_t = (int64_t)get_u64(s + 8 * n);
        epoch = (int32_t)get_u32(s + 8 * n + 8);
        step = (int32_t)get_u32(s + 8 * n + 12);
        if (adam_t < 0 || epoch < 0 || step != 0)
            return vae_fail(err, "checkpoint '%s': bad training state (Adam step %lld, epoch "
                                 "%d, step %d)", name, (long long)adam_t, epoch, step);
        const unsigned char *r = s + 8 * n + 16;
        for (int k = 0; k < VAE_STREAM_COUNT; k++) {
            uint32_t hs = get_u32(r + k * STREAM_BYTES + 32);
            float sp;
            get_f32s(&sp, r + k * STREAM_BYTES + 36, 1);
            if (hs > 1 || !isfinite(sp))
                return vae_fail(err, "checkpoint '%s': bad RNG stream %d", name, k);
        }
        if (f->order_n > INT32_MAX)
            return vae_fail(err, "checkpoint '%s': data order of %u rows", name, f->order_n);
        const unsigned char *o = r + (size_t)VAE_STREAM_COUNT * STREAM_BYTES;
        if (f->order_n) { /* a permutation of 0..order_n-1, or dataset reads go astray */
            order = malloc((size_t)f->order_n * sizeof *order);
            unsigned char *seen = calloc(f->order_n, 1);
            if (!order || !seen) {
                free(order);
                free(seen);
                return vae_fail(err, "checkpoint '%s': out of memory for the data order", name);
            }
            for (uint32_t i = 0; i < f->order_n; i++) {
                uint32_t v = get_u32(o + 4 * i);
                if (v >= f->order_n || seen[v]) {
                    free(order);
                    free(seen);
                    return vae_fail(err, "checkpoint '%s': the data order is not a permutation "
                                         "(entry %u)", name, i + 1);
                }
                seen[v] = 1;
                order[i] = (int)v;
            }
            free(seen);
        }
    }
    vae_checkpoint_info got = { s != NULL, NULL, NULL, 0 };
    if (info) {
        got.train_text = malloc((size_t)f->tlen + 1);
        got.user = malloc((size_t)f->ulen + 1);
        if (!got.train_text || !got.user) {
            free(order);
            vae_checkpoint_info_free(&got);
            return vae_fail(err, "checkpoint '%s': out of memory", name);
        }
        memcpy(got.train_text, f->ttext, f->tlen);
        got.train_text[f->tlen] = 0;
        memcpy(got.user, f->user, f->ulen);
        got.user[f->ulen] = 0;
        got.user_len = f->ulen;
    }
    /* every check passed: nothing below fails */
    get_f32s(params, f->params, n);
    if (s) {
        get_f32s(m1, s, n);
        get_f32s(m2, s + 4 * n, n);
        vae_train_state *st = vae_model_state(m);
        st->adam_t = (long)adam_t;
        st->epoch = epoch;
        st->step = 0;
        st->partial = 0;
        const unsigned char *r = s + 8 * n + 16;
        for (int k = 0; k < VAE_STREAM_COUNT; k++, r += STREAM_BYTES) {
            for (int j = 0; j < 4; j++) st->rng[k].s[j] = get_u64(r + 8 * j);
            st->rng[k].has_spare = (int)get_u32(r + 32);
            get_f32s(&st->rng[k].spare, r + 36, 1);
        }
        free(st->order);
        st->order = order;
        st->order_n = (int)f->order_n;
    }
    if (info) *info = got;
    return VAE_OK;
}

/* The whole file; refuses anything but a regular file (a FIFO would block). */
static unsigned char *read_file(const char *path, size_t *size, vae_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        vae_fail(err, "checkpoint '%s': cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        vae_fail(err, "checkpoint '%s': not a regular file", path);
        close(fd);
        return NULL;
    }
    size_t n = (size_t)sb.st_size, got = 0;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        vae_fail(err, "checkpoint '%s': out of memory for %zu bytes", path, n);
        close(fd);
        return NULL;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    *size = got; /* a file that shrank reads as truncated */
    return buf;
}

static vae_model *build_from(const parsed *f, const char *name, vae_error *err)
{
    vae_config c;
    vae_config_default(&c);
    char *text = malloc((size_t)f->clen + 1);
    if (!text) {
        vae_fail(err, "checkpoint '%s': out of memory", name);
        return NULL;
    }
    memcpy(text, f->ctext, f->clen);
    text[f->clen] = 0;
    vae_error e;
    int bad = vae_config_assign_all(&c, NULL, text, &e);
    free(text);
    if (bad || vae_config_finish(&c, &e)) {
        vae_fail(err, "checkpoint '%s': bad config: %s", name, e.msg);
        return NULL;
    }
    double want = vae_config_param_count(&c);
    if (want != (double)f->n) {
        vae_fail(err, "checkpoint '%s': parameter count mismatch (%llu in the file, its config "
                      "makes %.0f)", name, (unsigned long long)f->n, want);
        return NULL;
    }
    vae_model *m = vae_model_new(&c, &e);
    if (!m) vae_fail(err, "checkpoint '%s': %s", name, e.msg);
    return m;
}

vae_model *vae_model_load_buffer(const unsigned char *buf, size_t n, const char *name,
                                 vae_checkpoint_info *info, vae_error *err)
{
    parsed f;
    if (parse(buf, n, name, &f, err)) return NULL;
    vae_model *m = build_from(&f, name, err);
    if (!m) return NULL;
    if (apply(m, &f, name, info, err)) {
        vae_model_free(m);
        return NULL;
    }
    return m;
}

vae_model *vae_model_load(const char *path, vae_checkpoint_info *info, vae_error *err)
{
    size_t n;
    unsigned char *buf = read_file(path, &n, err);
    if (!buf) return NULL;
    vae_model *m = vae_model_load_buffer(buf, n, path, info, err);
    free(buf);
    return m;
}

int vae_model_load_into(vae_model *m, const char *path, vae_checkpoint_info *info,
                        vae_error *err)
{
    size_t n;
    unsigned char *buf = read_file(path, &n, err);
    if (!buf) return VAE_FAIL;
    parsed f;
    int rc = parse(buf, n, path, &f, err);
    if (!rc) rc = apply(m, &f, path, info, err);
    free(buf);
    return rc;
}
