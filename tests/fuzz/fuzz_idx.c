/* libFuzzer target: the idx loader (images with 3 dimensions, labels with 1)
 * over a file holding the input (a memfd, reopened by path as the loader does). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../harness/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("idx", 0);
        if (fd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    vae_error err;
    vae_images *im = vae_idx_images(path, &err);
    vae_images_free(im);
    uint8_t *labels = NULL;
    int n;
    if (vae_idx_labels(path, &labels, &n, &err) == VAE_OK) free(labels);
    return 0;
}
