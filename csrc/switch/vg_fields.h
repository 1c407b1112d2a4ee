/* Little-endian loads and stores for the field engine (vmgen/_fields.pyx).
 *
 * Every access goes through memcpy so unaligned offsets are safe on every architecture; compilers turn
 * these into single moves. Values in switch buffers are little-endian by definition (Windows), so on a
 * big-endian host we byte-swap.
 */
#ifndef VG_FIELDS_H
#define VG_FIELDS_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define VG_BIG_ENDIAN 1
#else
#define VG_BIG_ENDIAN 0
#endif

static inline uint64_t vg_load_u(const char *p, int size)
{
    switch (size) {
    case 1: return (uint8_t)p[0];
    case 2: { uint16_t v; memcpy(&v, p, 2);
#if VG_BIG_ENDIAN
        v = __builtin_bswap16(v);
#endif
        return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4);
#if VG_BIG_ENDIAN
        v = __builtin_bswap32(v);
#endif
        return v; }
    default: { uint64_t v; memcpy(&v, p, 8);
#if VG_BIG_ENDIAN
        v = __builtin_bswap64(v);
#endif
        return v; }
    }
}

static inline int64_t vg_load_s(const char *p, int size)
{
    uint64_t u = vg_load_u(p, size);
    switch (size) {
    case 1: return (int8_t)u;
    case 2: return (int16_t)u;
    case 4: return (int32_t)u;
    default: return (int64_t)u;
    }
}

static inline void vg_store_u(char *p, int size, uint64_t v)
{
    switch (size) {
    case 1: p[0] = (char)(uint8_t)v; break;
    case 2: { uint16_t w = (uint16_t)v;
#if VG_BIG_ENDIAN
        w = __builtin_bswap16(w);
#endif
        memcpy(p, &w, 2); break; }
    case 4: { uint32_t w = (uint32_t)v;
#if VG_BIG_ENDIAN
        w = __builtin_bswap32(w);
#endif
        memcpy(p, &w, 4); break; }
    default: {
#if VG_BIG_ENDIAN
        v = __builtin_bswap64(v);
#endif
        memcpy(p, &v, 8); break; }
    }
}

/* A GUID's 16 bytes as Windows stores them (Data1..3 little-endian) -> the 128-bit integer uuid.UUID keeps
 * (RFC 4122 byte order, big-endian). */
static inline PyObject *vg_guid_to_int(const char *p)
{
    unsigned char be[16];
    be[0] = (unsigned char)p[3]; be[1] = (unsigned char)p[2]; be[2] = (unsigned char)p[1]; be[3] = (unsigned char)p[0];
    be[4] = (unsigned char)p[5]; be[5] = (unsigned char)p[4];
    be[6] = (unsigned char)p[7]; be[7] = (unsigned char)p[6];
    memcpy(be + 8, p + 8, 8);
#if PY_VERSION_HEX >= 0x030D0000
    return PyLong_FromUnsignedNativeBytes(be, 16, Py_ASNATIVEBYTES_BIG_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER);
#else
    return _PyLong_FromByteArray(be, 16, /*little_endian=*/0, /*is_signed=*/0);
#endif
}

/* UTF-16LE WCHARs -> str. surrogatepass: Windows strings may hold unpaired surrogates; keep them. */
static inline PyObject *vg_decode_wchars(const char *p, Py_ssize_t nbytes)
{
    int byteorder = -1; /* little-endian */
    return PyUnicode_DecodeUTF16(p, nbytes, "surrogatepass", &byteorder);
}

#endif /* VG_FIELDS_H */
