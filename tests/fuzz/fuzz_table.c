/* libFuzzer target: the float table reader (oil flow's text tables) over a
 * file holding the input (a memfd, read by path as the reader does). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../harness/table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("table", 0);
        if (fd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    vae_error err;
    vae_mat *m = vae_table_read(path, &err);
    /* a table that loads is rectangular and finite */
    if (m)
        for (size_t i = 0; i < (size_t)m->rows * m->cols; i++)
            if (m->v[i] != m->v[i]) abort();
    vae_mat_free(m);
    return 0;
}
