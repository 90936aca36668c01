/*===- runtime/cnnc_weights_format.h - the parameter file format ----------===*
 *
 * One format for three uses: checkpoints written by save_params, files read
 * by load_params, and the weights file of a model compiled with
 * --weights=external (which the compiler writes). Plain C11; the compiler
 * includes it from C++.
 *
 * All integers are little-endian, whatever the host. No padding, no
 * alignment: readers copy every field.
 *
 *   offset  size       field
 *   0       8          magic "CNNCPRM1" (no NUL)
 *   8       4          u32 count: number of parameter records
 *   then count records, each:
 *           4          u32 name length n (bytes, no NUL; 1..CNNC_WF_MAX_NAME)
 *           n          name (the parameter's name in the model)
 *           4          u32 dtype (cnnc_dtype: 0 f32, 1 f64, 2 i64, 3 i32,
 *                      4 bool stored as one byte per element)
 *           4          u32 rank (0..CNNC_MAX_RANK)
 *           8*rank     i64 dims, outermost first (row-major, as in the IR)
 *           8          u64 byte length b (= elements * element size)
 *           b          data, dense row-major in host (little-endian) order
 *   end-4   4          u32 CRC-32 of every byte before it (the IEEE / zlib
 *                      polynomial: equal to zlib's crc32(0, file, size - 4),
 *                      or Python's zlib.crc32)
 *
 * A reader checks the checksum first, then that the file names exactly the
 * model's parameters (each once, in any order) with the model's dtype and
 * dims; any difference is CNNC_ERR_CORRUPT, and nothing is loaded.
 * Writers emit the records in the model's parameter order.
 *===----------------------------------------------------------------------===*/
#ifndef CNNC_WEIGHTS_FORMAT_H
#define CNNC_WEIGHTS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define CNNC_WF_MAGIC "CNNCPRM1"
#define CNNC_WF_MAGIC_BYTES 8
/* The smallest file: magic, count, checksum. */
#define CNNC_WF_MIN_BYTES (CNNC_WF_MAGIC_BYTES + 4 + 4)
/* The longest parameter name a reader accepts. */
#define CNNC_WF_MAX_NAME 4096

#ifdef __cplusplus
extern "C" {
#endif

/* The checksum of the format: CRC-32 (reflected, polynomial 0xEDB88320), the
 * running value starting at 0, as zlib's crc32(). The runtime defines it;
 * the compiler may use zlib's crc32 instead, which gives the same values. */
uint32_t cnnc_wf_crc32(uint32_t crc, const void *data, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif /* CNNC_WEIGHTS_FORMAT_H */
