#include "table.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TABLE_MAX_BYTES ((long long)1 << 31) /* far above any table we keep */

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* The whole file as a NUL-terminated string (a NUL inside it is a fault the
 * parser finds: it ends the text early only if nothing but blanks follow). */
static char *slurp(const char *path, long long *len, vae_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return vae_fail(err, "%s: cannot read: %s", path, strerror(errno)), NULL;
    if (!S_ISREG(st.st_mode)) return vae_fail(err, "%s: not a regular file", path), NULL;
    if ((long long)st.st_size > TABLE_MAX_BYTES)
        return vae_fail(err, "%s: too large for a table (%lld bytes)", path,
                        (long long)st.st_size), NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return vae_fail(err, "%s: cannot open: %s", path, strerror(errno)), NULL;
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return vae_fail(err, "%s: out of memory for %zu bytes", path, cap), NULL;
    }
    size_t got;
    /* read to the end even if the file grew after stat (up to the buffer) */
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) n += got;
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return vae_fail(err, "%s: read error", path), NULL;
    }
    buf[n] = 0;
    *len = (long long)n;
    return buf;
}

vae_mat *vae_table_read(const char *path, vae_error *err)
{
    long long len = 0;
    char *text = slurp(path, &len, err);
    if (!text) return NULL;
    float *vals = NULL;
    size_t n_vals = 0, cap = 0;
    int cols = -1, rows = 0, line = 0, first_line = 0;
    int blank_at = 0; /* the first blank line seen: only blank lines may follow it */
    vae_mat *m = NULL;
    const char *p = text, *end = text + len;
    while (p < end) {
        line++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        int n_here = 0;
        const char *q = p, *last_end = p; /* just after the last value */
        for (;;) {
            while (q < eol && is_blank(*q)) q++;
            if (q >= eol) break;
            int column = (int)(q - p) + 1;
            char *stop;
            double v = strtod(q, &stop);
            if (stop == q || (stop < eol && !is_blank(*stop))) {
                const char *tok_end = q;
                while (tok_end < eol && !is_blank(*tok_end) && tok_end - q < 24) tok_end++;
                vae_fail(err, "%s: line %d, column %d: not a number: '%.*s'", path, line, column,
                         (int)(tok_end - q), q);
                goto fail;
            }
            if (!isfinite(v) || fabs(v) > FLT_MAX) {
                vae_fail(err, "%s: line %d, column %d: %s value '%.*s' (values must be finite floats)",
                         path, line, column, isnan(v) ? "NaN" : "infinite or out-of-range",
                         (int)(stop - q), q);
                goto fail;
            }
            if (blank_at) {
                vae_fail(err, "%s: line %d: a row after a blank line (line %d): blank lines may "
                         "only end the table", path, line, blank_at);
                goto fail;
            }
            if (cols >= 0 && n_here == cols) {
                vae_fail(err, "%s: line %d, column %d: a value beyond the %d columns of line %d",
                         path, line, column, cols, first_line);
                goto fail;
            }
            if (n_vals == cap) {
                cap = cap ? 2 * cap : 4096;
                float *grown = realloc(vals, cap * sizeof *vals);
                if (!grown) {
                    vae_fail(err, "%s: out of memory at line %d", path, line);
                    goto fail;
                }
                vals = grown;
            }
            vals[n_vals++] = (float)v;
            n_here++;
            q = last_end = stop;
        }
        if (n_here == 0) {
            if (!blank_at) blank_at = line;
        } else {
            if (cols < 0) {
                cols = n_here;
                first_line = line;
            } else if (n_here != cols) {
                vae_fail(err, "%s: line %d, column %d: the row ends after %d columns, but line %d "
                         "has %d", path, line, (int)(last_end - p) + 1, n_here, first_line, cols);
                goto fail;
            }
            rows++;
        }
        p = eol + 1;
    }
    if (rows == 0) {
        vae_fail(err, "%s: empty: no rows of numbers", path);
        goto fail;
    }
    if (!(m = vae_mat_new(rows, cols))) {
        vae_fail(err, "%s: out of memory for a %d x %d table", path, rows, cols);
        goto fail;
    }
    memcpy(m->v, vals, n_vals * sizeof *vals);
fail:
    free(vals);
    free(text);
    return m;
}
