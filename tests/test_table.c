/* Table reader tests: crafted good files (a trailing blank line, CRLF endings,
 * tabs) and bad ones (ragged rows, a non-number, NaN, inf, a value beyond float,
 * a blank line between rows, empty, missing, a directory, a FIFO), each error
 * naming the file and the line and column of the fault. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../harness/table.h"
#include "check.h"

static const char *write_text(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/vae_test_table_%d.txt", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

/* text must fail with a message naming the file and containing want (and where,
 * when where is not NULL: "line L, column C"). */
static void expect_fail(const char *what, const char *text, const char *want, const char *where)
{
    const char *path = write_text(text);
    vae_error err;
    err.msg[0] = 0;
    vae_mat *m = vae_table_read(path, &err);
    CHECK(m == NULL, "%s: read as a %d x %d table", what, m ? m->rows : 0, m ? m->cols : 0);
    vae_mat_free(m);
    CHECK(strstr(err.msg, path) != NULL, "%s: \"%s\" does not name the file", what, err.msg);
    CHECK(strstr(err.msg, want) != NULL, "%s: \"%s\" does not say \"%s\"", what, err.msg, want);
    if (where)
        CHECK(strstr(err.msg, where) != NULL, "%s: \"%s\" does not say \"%s\"", what, err.msg, where);
    unlink(path);
}

static void expect_table(const char *what, const char *text, int rows, int cols, const float *v)
{
    const char *path = write_text(text);
    vae_error err;
    vae_mat *m = vae_table_read(path, &err);
    CHECK(m != NULL, "%s: %s", what, m ? "" : err.msg);
    if (m) {
        CHECK(m->rows == rows && m->cols == cols, "%s: %d x %d, expected %d x %d", what, m->rows,
              m->cols, rows, cols);
        if (m->rows == rows && m->cols == cols)
            for (int i = 0; i < rows * cols; i++)
                CHECK(m->v[i] == v[i], "%s: value %d is %g, expected %g", what, i, (double)m->v[i],
                      (double)v[i]);
    }
    vae_mat_free(m);
    unlink(path);
}

static void test_table_good(void)
{
    const float v[6] = { 1.5f, -2e-3f, 3, 0.25f, 5, -6 };
    expect_table("plain", "1.5 -2e-3 3\n0.25 5 -6\n", 2, 3, v);
    expect_table("no final newline", "1.5 -2e-3 3\n0.25 5 -6", 2, 3, v);
    expect_table("a trailing blank line", "1.5 -2e-3 3\n0.25 5 -6\n\n", 2, 3, v);
    expect_table("trailing blank lines with spaces", "1.5 -2e-3 3\n0.25 5 -6\n  \n\t\n", 2, 3, v);
    expect_table("CRLF", "1.5 -2e-3 3\r\n0.25 5 -6\r\n\r\n", 2, 3, v);
    expect_table("tabs and fixed-width fields", "   1.5000000e+00\t-2e-3   3\n 0.25 5 -6  \n", 2,
                 3, v);
    const float one[1] = { 7 };
    expect_table("one value", "7\n", 1, 1, one);
}

static void test_table_bad(void)
{
    expect_fail("ragged: a row too short", "1 2 3\n4 5\n", "ends after 2 columns", "line 2, column 4");
    expect_fail("ragged: a row too long", "1 2 3\n4 5 6 7\n", "beyond the 3 columns",
                "line 2, column 7");
    expect_fail("a non-number", "1 2 3\n4 x5 6\n", "not a number: 'x5'", "line 2, column 3");
    expect_fail("a number with junk", "1 2 3\n4 5 6e\n", "not a number", "line 2, column 5");
    expect_fail("a comma", "1,2,3\n", "not a number", "line 1, column 1");
    expect_fail("NaN", "1 2 3\n4 nan 6\n", "NaN", "line 2, column 3");
    expect_fail("inf", "1 2 3\n4 5 -inf\n", "infinite", "line 2, column 5");
    expect_fail("beyond float", "1 2 1e39\n", "out-of-range", "line 1, column 5");
    expect_fail("a blank line between rows", "1 2\n\n3 4\n", "after a blank line (line 2)", "line 3");
    expect_fail("a leading blank line", "\n1 2\n", "after a blank line (line 1)", "line 2");
    expect_fail("empty", "", "empty", NULL);
    expect_fail("blank lines only", "\n \r\n", "empty", NULL);

    vae_error err;
    const char *missing = "/tmp/vae_test_table_no_such_file.txt";
    CHECK(vae_table_read(missing, &err) == NULL, "a missing file read");
    CHECK(strstr(err.msg, missing) && strstr(err.msg, "No such file"), "missing: \"%s\"", err.msg);
    CHECK(vae_table_read("/tmp", &err) == NULL, "a directory read");
    CHECK(strstr(err.msg, "/tmp") && strstr(err.msg, "not a regular file"), "directory: \"%s\"",
          err.msg);
    char fifo[64];
    snprintf(fifo, sizeof fifo, "/tmp/vae_test_table_fifo_%d", (int)getpid());
    unlink(fifo);
    if (mkfifo(fifo, 0600) == 0) { /* opening it would block: the reader must not */
        CHECK(vae_table_read(fifo, &err) == NULL, "a FIFO read");
        CHECK(strstr(err.msg, "not a regular file"), "FIFO: \"%s\"", err.msg);
        unlink(fifo);
    }
}

const test_case table_tests[] = {
    { "table reader: good files (trailing blank lines, CRLF, tabs, fixed-width fields)",
      test_table_good },
    { "table reader: bad files name the file, line and column (ragged, non-number, NaN, inf, "
      "empty, missing, directory, FIFO)", test_table_bad },
    { NULL, NULL }
};
