/* Float tables in plain text: one row per line, values separated by spaces or
 * tabs, every row the same number of columns (the oil flow files, and any later
 * experiment's). */
#ifndef VAE_TABLE_H
#define VAE_TABLE_H

#include "error.h"
#include "mat.h"

/* Reads path into a new rows x cols matrix (the caller owns it: vae_mat_free).
 * Every value must parse as a number and be finite in float; CRLF line endings
 * and blank lines at the end are fine, a blank line between rows is not. NULL on
 * failure, with a message naming the file and, for a fault in the text, the line
 * and column (1-based, in characters) where it starts: a missing or unreadable
 * file, one that is not a regular file (checked before opening: a FIFO cannot
 * hang the reader), an empty one, a ragged row, a value that is not a number,
 * NaN or infinite. */
vae_mat *vae_table_read(const char *path, vae_error *err);

#endif
