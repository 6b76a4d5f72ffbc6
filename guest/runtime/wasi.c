/*
 * WASI preview1 inside the guest. Every call becomes a host call (abi.h, AK_WASI_FUNCS) that the TypeScript WASI
 * serves against linear memory, except two that would otherwise cost a VM exit each:
 *   - fd_write to stdout/stderr is copied into the message area as ak_out_record entries and sent with one
 *     AK_HC_FLUSH when the area fills, before any other host call and at the end of the call. Once the program
 *     closes or renumbers fd 1 or 2 its writes go to the host unbuffered, so they land wherever the fd now points.
 *   - proc_exit ends the call with AK_PORT_DONE, status = exit code.
 */
#include <stdint.h>
#include <string.h>

#include "ak_guest.h"

#define WASI_EFAULT 21u
#define WASI_EINVAL 28u

static uint32_t out_len;      /* bytes of records in msg->data */
static uint32_t last_record;  /* offset of the last record's header, valid while out_len > 0 */
static uint8_t fd_direct[3];  /* fd 1/2 no longer the original stdout/stderr */

void ak_output_reset(void) {
  out_len = 0;
  AK_MSG->data_len = 0;
}

void ak_output_flush(void) {
  if (out_len == 0) return;
  AK_MSG->data_len = out_len;
  out_len = 0;
  ak_hostcall(AK_HC_FLUSH, 0, NULL);
}

void ak_output_write(uint32_t fd, const uint8_t *bytes, uint32_t len) {
  uint8_t *data = AK_MSG->data;
  while (len > 0) {
    struct ak_out_record rec;
    uint32_t room;
    if (out_len > 0 && (memcpy(&rec, data + last_record, sizeof rec), rec.fd == fd)) {
      room = AK_DATA_CAP - out_len;   /* extend the last record */
    } else {
      if (AK_DATA_CAP - out_len <= sizeof rec) ak_output_flush();
      last_record = out_len;
      rec.fd = fd;
      rec.len = 0;
      out_len += sizeof rec;
      room = AK_DATA_CAP - out_len;
    }
    uint32_t n = len < room ? len : room;
    memcpy(data + out_len, bytes, n);
    out_len += n;
    rec.len += n;
    memcpy(data + last_record, &rec, sizeof rec);
    /* kept current so that a host stopping the guest mid-call (a timeout) still finds the output so far */
    AK_MSG->data_len = out_len;
    bytes += n;
    len -= n;
    if (len > 0) ak_output_flush();
  }
}

/* [offset, offset + len) lies inside linear memory. */
static int in_memory(uint64_t offset, uint64_t len) {
  return ak_mem0 && offset + len <= ak_mem0->size;
}

static uint32_t load_u32(uint32_t offset) {
  uint32_t v;
  memcpy(&v, ak_mem0->data + offset, 4);
  return v;
}

uint32_t ak_wasi_fd_write(uint32_t fd, uint32_t iovs, uint32_t iovs_len, uint32_t nwritten) {
  if ((fd != 1 && fd != 2) || fd_direct[fd]) {
    uint64_t args[4] = {fd, iovs, iovs_len, nwritten};
    return ak_wasi_call(AK_WASI_fd_write, 4, args);
  }
  /* Check everything before copying anything, as the host would: a bad pointer writes nothing. */
  if (!in_memory(iovs, (uint64_t)iovs_len * 8) || !in_memory(nwritten, 4)) return WASI_EFAULT;
  uint64_t total = 0;
  for (uint32_t i = 0; i < iovs_len; i++) {
    uint32_t buf = load_u32(iovs + i * 8), len = load_u32(iovs + i * 8 + 4);
    if (!in_memory(buf, len)) return WASI_EFAULT;
    total += len;
  }
  if (total > UINT32_MAX) return WASI_EINVAL;
  for (uint32_t i = 0; i < iovs_len; i++) {
    uint32_t buf = load_u32(iovs + i * 8), len = load_u32(iovs + i * 8 + 4);
    ak_output_write(fd, ak_mem0->data + buf, len);
  }
  uint32_t written = (uint32_t)total;
  memcpy(ak_mem0->data + nwritten, &written, 4);
  return 0;
}

uint32_t ak_wasi_fd_close(uint32_t fd) {
  if (fd == 1 || fd == 2) fd_direct[fd] = 1;
  uint64_t args[1] = {fd};
  return ak_wasi_call(AK_WASI_fd_close, 1, args);
}

uint32_t ak_wasi_fd_renumber(uint32_t from, uint32_t to) {
  if (from == 1 || from == 2) fd_direct[from] = 1;
  if (to == 1 || to == 2) fd_direct[to] = 1;
  uint64_t args[2] = {from, to};
  return ak_wasi_call(AK_WASI_fd_renumber, 2, args);
}

void ak_wasi_proc_exit(uint32_t code) {
  ak_finish((int32_t)code, 0, NULL);
}

uint32_t ak_wasi_call(uint32_t index, uint32_t nargs, const uint64_t *args) {
  return (uint32_t)ak_hostcall(AK_HC_WASI_BASE + index, nargs, args);
}
