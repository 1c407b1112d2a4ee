/* vmgentest.h - the contract between vmgen's Wine test driver (vmgentest.sys) and its user-mode callers.
 *
 * The driver mimics Hyper-V's VM generation counter device (\\.\VmGenerationCounter, IOCTL_VMGENCOUNTER_READ,
 * see docs LAYOUTS.md "Windows") and adds a separate control device, \\.\VmGenTestCtl, that tests use to
 * set a new generation and to flip failure switches.  The control device never disappears and never
 * denies access, so a test can always undo what it did.
 */
#ifndef VMGENTEST_H
#define VMGENTEST_H

/* Hyper-V's contract (vmgenerationcounter.h) */
#define VGT_IOCTL_VMGENCOUNTER_READ 0x0032C004u /* CTL_CODE(FILE_DEVICE_ACPI, 1, METHOD_BUFFERED, READ|WRITE) */

/* Driver-private control IOCTLs on \\.\VmGenTestCtl: CTL_CODE(0x8000, fn, METHOD_BUFFERED, FILE_ANY_ACCESS) */
#define VGT_CTL_CODE(fn) ((0x8000u << 16) | ((fn) << 2))
#define VGT_IOCTL_SET    VGT_CTL_CODE(0x801) /* in: 16-byte VM_GENCOUNTER; sets it, completes reads whose input differs */
#define VGT_IOCTL_FLAGS  VGT_CTL_CODE(0x802) /* in: ULONG flags (below); out (optional): ULONG previous flags */
#define VGT_IOCTL_STATS  VGT_CTL_CODE(0x803) /* out: struct vgt_stats */
#define VGT_IOCTL_SET_SILENT VGT_CTL_CODE(0x804) /* in: 16 bytes; sets the value WITHOUT completing pending reads */

#define VGT_FLAG_NO_EVENT     0x1u /* event-driven reads (input length 16) fail with STATUS_NOT_SUPPORTED */
#define VGT_FLAG_HIDDEN       0x2u /* \DosDevices\VmGenerationCounter is deleted: opens fail with ERROR_FILE_NOT_FOUND */
#define VGT_FLAG_DENY        0x4u /* IOCTL_VMGENCOUNTER_READ fails with STATUS_ACCESS_DENIED (ERROR_ACCESS_DENIED).
                                      * On Windows a non-administrator already fails CreateFile with that error (the
                                      * device's ACL); Wine 8 neither checks device ACLs nor fails CreateFile when a
                                      * driver fails IRP_MJ_CREATE, so the switch denies the first read instead. */

struct vgt_stats {
    unsigned long long count, count_high; /* current generation */
    unsigned int pending;        /* event-driven reads queued right now */
    unsigned int flags;
    unsigned int opens;          /* handles open on the counter device right now */
    unsigned int polls;          /* polling reads served (total) */
    unsigned int events_started; /* event-driven reads received (total) */
    unsigned int events_done;    /* event-driven reads completed with a value (total) */
    unsigned int cancelled;      /* event-driven reads completed STATUS_CANCELLED (total, incl. cleanup) */
    unsigned int reserved;
};

#endif
