/* libFuzzer target: the checkpoint loader from memory. Built with
 * VAE_CHECKPOINT_FUZZ, which lets a wrong checksum through so the fuzzer
 * reaches the fields behind it (every other check stays). */
#include <stdint.h>

#include "../../harness/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vae_error err;
    vae_checkpoint_info info;
    vae_model *m = vae_model_load_buffer(data, size, "fuzz", &info, &err);
    if (m) {
        vae_checkpoint_info_free(&info);
        vae_model_free(m);
    }
    return 0;
}
