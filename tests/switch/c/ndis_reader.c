/* An extension's reader of the extensible-switch buffers vmgen writes, written against mingw-w64's
 * ntddndis.h: its structures, NDIS_SIZEOF_* sizes, revision constants and *_GET_PROPERTY / *_GET_BUFFER
 * macros, with the checks a careful driver makes (Microsoft's base library's header checks, then
 * Offset + Length <= the containing length at every step). SAMPLE_FEATURE_SETTINGS is seed 001's text.
 *
 * Usage: ndis_reader.exe KIND FILE [KIND FILE ...], KIND one of nic, port, switch. One line per file:
 * "KIND ok field=value ..." or "KIND refused WHY".
 * Built by tests/switch/test_ndis_reader.py: x86_64-w64-mingw32-gcc -DUM_NDIS630, run under Wine.
 */
#define __USE_MINGW_ANSI_STDIO 1
#include <winsock2.h>
#include <windows.h>
#include <ntddndis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>

#pragma pack(push, 8)
typedef struct _SAMPLE_FEATURE_SETTINGS {
    UINT8 IntValue8;
    UINT32 IntValue16;
    UINT32 IntValue32;
    UINT64 IntValue64;
    UINT16 FixedLengthStringByteCount;
    WCHAR FixedLengthString[256];
    UINT32 VariableLengthStringOffset;
    UINT32 FixedLengthArrayElementCount;
    UINT32 FixedLengthArray[8];
    UINT32 VariableLengthArrayElementCount;
    UINT32 VariableLengthArrayOffset;
} SAMPLE_FEATURE_SETTINGS;
typedef struct _VARIABLE_LENGTH_STRING {
    USHORT StringLength;
    WCHAR StringBuffer[1];
} VARIABLE_LENGTH_STRING;
#pragma pack(pop)

/* A line is built here and printed only when every step passed; a refusal replaces it. */
static char line[16384];
static size_t used;

static void emit(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + used, sizeof line - used, fmt, ap);
    va_end(ap);
    if (n > 0) used = used + (size_t)n < sizeof line ? used + (size_t)n : sizeof line - 1;
}

static int refuse(const char *kind, const char *why) {
    used = 0;
    printf("%s refused %s\n", kind, why);
    return 1;
}

static int print_line(void) {
    printf("%s\n", line);
    used = 0;
    return 0;
}

/* ULONGLONG arithmetic: a 32-bit Offset + Length must not wrap past a check. */
#define FITS(off, len, total) ((ULONGLONG)(off) + (ULONGLONG)(len) <= (ULONGLONG)(total))

static void guid(const GUID *g) {
    emit("%08lx-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", (unsigned long)g->Data1, g->Data2, g->Data3,
           g->Data4[0], g->Data4[1], g->Data4[2], g->Data4[3], g->Data4[4], g->Data4[5], g->Data4[6],
           g->Data4[7]);
}

static void hex(const void *p, ULONG n) {
    const UCHAR *b = p;
    if (n == 0) emit("-");
    for (ULONG i = 0; i < n; i++) emit("%02x", b[i]);
}

static int nic(const UCHAR *buf, ULONG n) {
    const NDIS_SWITCH_NIC_SAVE_STATE *s = (const void *)buf;
    if (n < NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1) return refuse("nic", "short");
    if (s->Header.Type != NDIS_OBJECT_TYPE_DEFAULT || s->Header.Revision < NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1 ||
        s->Header.Size < NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1)
        return refuse("nic", "header");
    if (s->Header.Size > n) return refuse("nic", "size");
    if (s->SaveDataOffset < s->Header.Size) return refuse("nic", "offset");
    if (!FITS(s->SaveDataOffset, s->SaveDataSize, n)) return refuse("nic", "bounds");
    if (s->ExtensionFriendlyName.Length > IF_MAX_STRING_SIZE * sizeof(WCHAR)) return refuse("nic", "name");
    emit("nic ok rev=%u size=%u flags=%08lx port=%lu nic=%u ext=", s->Header.Revision, s->Header.Size,
           (unsigned long)s->Flags, (unsigned long)s->PortId, s->NicIndex);
    guid(&s->ExtensionId);
    emit(" name=");
    hex(s->ExtensionFriendlyName.String, s->ExtensionFriendlyName.Length);
    emit(" fc=");
    guid(&s->FeatureClassId);
    emit(" dsize=%u doff=%u overflow=", s->SaveDataSize, s->SaveDataOffset);
    /* mingw-w64's header stops at revision 1; revision 2 appends a ULONG SaveDataSizeOverflow. */
    if (s->Header.Revision >= 2 && s->Header.Size >= NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1 + sizeof(ULONG)) {
        ULONG overflow;
        memcpy(&overflow, buf + NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1, sizeof overflow);
        emit("%08lx", (unsigned long)overflow);
    } else {
        emit("-");
    }
    emit(" data=");
    hex(buf + s->SaveDataOffset, s->SaveDataSize);
    return print_line();
}

/* The policy struct inside a custom property's buffer: p, len bytes. */
static int policy(const UCHAR *p, ULONG len, const char *kind) {
    const SAMPLE_FEATURE_SETTINGS *f = (const void *)p;
    if (len < sizeof *f) return refuse(kind, "policy-short");
    if (f->FixedLengthStringByteCount > 255 * sizeof(WCHAR)) return refuse(kind, "fstr");
    if (f->FixedLengthArrayElementCount > 8) return refuse(kind, "farr");
    if (f->VariableLengthStringOffset < sizeof *f || !FITS(f->VariableLengthStringOffset, sizeof(USHORT), len))
        return refuse(kind, "vstr-offset");
    const VARIABLE_LENGTH_STRING *vs = (const void *)(p + f->VariableLengthStringOffset);
    if (!FITS(f->VariableLengthStringOffset + sizeof(USHORT), vs->StringLength, len))
        return refuse(kind, "vstr-bounds");
    if (f->VariableLengthArrayOffset < sizeof *f ||
        !FITS(f->VariableLengthArrayOffset, (ULONGLONG)f->VariableLengthArrayElementCount * sizeof(UINT32), len))
        return refuse(kind, "varr-bounds");
    emit(" i8=%u i16=%lu i32=%lu i64=%llu fstr=", f->IntValue8, (unsigned long)f->IntValue16,
           (unsigned long)f->IntValue32, (unsigned long long)f->IntValue64);
    hex(f->FixedLengthString, f->FixedLengthStringByteCount);
    emit(" vstr=");
    hex(vs->StringBuffer, vs->StringLength);
    emit(" farr=");
    for (ULONG i = 0; i < f->FixedLengthArrayElementCount; i++) emit("%s%lu", i ? "," : "", (unsigned long)f->FixedLengthArray[i]);
    emit(" varr=");
    for (ULONG i = 0; i < f->VariableLengthArrayElementCount; i++) {
        UINT32 v;
        memcpy(&v, p + f->VariableLengthArrayOffset + i * sizeof v, sizeof v);
        emit("%s%lu", i ? "," : "", (unsigned long)v);
    }
    return print_line();
}

/* The custom property at c, inside a property buffer of len bytes; the same checks for both kinds. */
#define READ_CUSTOM(kind, CTYPE, REV, SIZE, GET_BUFFER, c, len)                                              \
    do {                                                                                                     \
        const CTYPE *c_ = (c);                                                                               \
        if ((len) < SIZE) return refuse(kind, "custom-short");                                  \
        if (c_->Header.Type != NDIS_OBJECT_TYPE_DEFAULT || c_->Header.Revision < REV || c_->Header.Size < SIZE) \
            return refuse(kind, "custom-header");                                               \
        if (c_->Header.Size > (len)) return refuse(kind, "custom-size");                        \
        if (c_->PropertyBufferOffset < c_->Header.Size) return refuse(kind, "custom-offset");   \
        if (!FITS(c_->PropertyBufferOffset, c_->PropertyBufferLength, (len)))                                \
            return refuse(kind, "custom-bounds");                                               \
        emit(" clen=%lu coff=%lu", (unsigned long)c_->PropertyBufferLength,                                \
               (unsigned long)c_->PropertyBufferOffset);                                                     \
        return policy((const UCHAR *)GET_BUFFER(c_), c_->PropertyBufferLength, kind);                        \
    } while (0)

static int port(const UCHAR *buf, ULONG n) {
    const NDIS_SWITCH_PORT_PROPERTY_PARAMETERS *p = (const void *)buf;
    if (n < NDIS_SIZEOF_NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_REVISION_1) return refuse("port", "short");
    if (p->Header.Type != NDIS_OBJECT_TYPE_DEFAULT || p->Header.Revision < NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_REVISION_1 ||
        p->Header.Size < NDIS_SIZEOF_NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_REVISION_1)
        return refuse("port", "header");
    if (p->Header.Size > n) return refuse("port", "size");
    if (p->PropertyType != NdisSwitchPortPropertyTypeCustom) return refuse("port", "type");
    if (p->SerializationVersion != NDIS_SWITCH_OBJECT_SERIALIZATION_VERSION_1) return refuse("port", "serialization");
    if (p->PropertyBufferOffset < p->Header.Size) return refuse("port", "offset");
    if (!FITS(p->PropertyBufferOffset, p->PropertyBufferLength, n)) return refuse("port", "bounds");
    emit("port ok port=%lu ver=%04x id=", (unsigned long)p->PortId, p->PropertyVersion);
    guid(&p->PropertyId);
    emit(" inst=");
    guid(&p->PropertyInstanceId);
    emit(" plen=%lu poff=%lu", (unsigned long)p->PropertyBufferLength, (unsigned long)p->PropertyBufferOffset);
    READ_CUSTOM("port", NDIS_SWITCH_PORT_PROPERTY_CUSTOM, NDIS_SWITCH_PORT_PROPERTY_CUSTOM_REVISION_1,
                NDIS_SIZEOF_NDIS_SWITCH_PORT_PROPERTY_CUSTOM_REVISION_1, NDIS_SWITCH_PORT_PROPERTY_CUSTOM_GET_BUFFER,
                (const NDIS_SWITCH_PORT_PROPERTY_CUSTOM *)NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_GET_PROPERTY(p),
                p->PropertyBufferLength);
}

static int sw(const UCHAR *buf, ULONG n) {
    const NDIS_SWITCH_PROPERTY_PARAMETERS *p = (const void *)buf;
    if (n < NDIS_SIZEOF_NDIS_SWITCH_PROPERTY_PARAMETERS_REVISION_1) return refuse("switch", "short");
    if (p->Header.Type != NDIS_OBJECT_TYPE_DEFAULT || p->Header.Revision < NDIS_SWITCH_PROPERTY_PARAMETERS_REVISION_1 ||
        p->Header.Size < NDIS_SIZEOF_NDIS_SWITCH_PROPERTY_PARAMETERS_REVISION_1)
        return refuse("switch", "header");
    if (p->Header.Size > n) return refuse("switch", "size");
    if (p->PropertyType != NdisSwitchPropertyTypeCustom) return refuse("switch", "type");
    if (p->SerializationVersion != NDIS_SWITCH_OBJECT_SERIALIZATION_VERSION_1) return refuse("switch", "serialization");
    if (p->PropertyBufferOffset < p->Header.Size) return refuse("switch", "offset");
    if (!FITS(p->PropertyBufferOffset, p->PropertyBufferLength, n)) return refuse("switch", "bounds");
    emit("switch ok ver=%04x id=", p->PropertyVersion);
    guid(&p->PropertyId);
    emit(" inst=");
    guid(&p->PropertyInstanceId);
    emit(" plen=%lu poff=%lu", (unsigned long)p->PropertyBufferLength, (unsigned long)p->PropertyBufferOffset);
    READ_CUSTOM("switch", NDIS_SWITCH_PROPERTY_CUSTOM, NDIS_SWITCH_PROPERTY_CUSTOM_REVISION_1,
                NDIS_SIZEOF_NDIS_SWITCH_PROPERTY_CUSTOM_REVISION_1, NDIS_SWITCH_PROPERTY_CUSTOM_GET_BUFFER,
                (const NDIS_SWITCH_PROPERTY_CUSTOM *)NDIS_SWITCH_PROPERTY_PARAMETERS_GET_PROPERTY(p),
                p->PropertyBufferLength);
}

int main(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i += 2) {
        FILE *fp = fopen(argv[i + 1], "rb");
        if (!fp) return printf("cannot open %s\n", argv[i + 1]), 2;
        fseek(fp, 0, SEEK_END);
        long n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        /* 8-byte aligned, as an OID's InformationBuffer is */
        UCHAR *buf = _aligned_malloc(n ? (size_t)n : 1, 8);
        if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) return printf("cannot read %s\n", argv[i + 1]), 2;
        fclose(fp);
        if (!strcmp(argv[i], "nic")) nic(buf, (ULONG)n);
        else if (!strcmp(argv[i], "port")) port(buf, (ULONG)n);
        else if (!strcmp(argv[i], "switch")) sw(buf, (ULONG)n);
        else return printf("unknown kind %s\n", argv[i]), 2;
        _aligned_free(buf);
    }
    return fflush(stdout) == 0 ? 0 : 3;
}
