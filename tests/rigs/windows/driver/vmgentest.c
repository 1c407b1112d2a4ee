/* vmgentest.sys - a WDM test driver that behaves like Hyper-V's VM generation counter device.
 *
 * Built with mingw-w64 (see tests/rigs/windows/rig.py) and loaded by Wine's ntoskrnl as a kernel-driver service.
 * It is test equipment for vmgen's Windows backend; it is never shipped.
 *
 *   \Device\VmGenerationCounter  (link \DosDevices\VmGenerationCounter)
 *       IOCTL_VMGENCOUNTER_READ, input length 0   -> polling: writes the 16-byte VM_GENCOUNTER, completes.
 *       IOCTL_VMGENCOUNTER_READ, input length 16  -> event-driven: pends (cancellable) until the current value
 *                                                    differs from the input, then completes with the new value.
 *       other input lengths -> STATUS_INVALID_PARAMETER; output < 16 -> STATUS_BUFFER_TOO_SMALL.
 *       The I/O manager enforces the code's FILE_READ_ACCESS|FILE_WRITE_ACCESS bits, as on Windows.
 *   \Device\VmGenTestCtl         (link \DosDevices\VmGenTestCtl): the driver-private controls of vmgentest.h.
 *
 * Pending reads live on one list under a spin lock; each has a cancel routine (IoSetCancelRoutine), and
 * IRP_MJ_CLEANUP completes the ones that belong to the file object being cleaned up.
 */
#include <ntddk.h>
#include "vmgentest.h"

typedef struct { ULONGLONG GenerationCount, GenerationCountHigh; } VGT_GENCOUNTER;

static PDEVICE_OBJECT g_counter_dev, g_ctl_dev;
static KSPIN_LOCK g_lock;
static LIST_ENTRY g_pending;
static VGT_GENCOUNTER g_value = { 0x1000, 0 };
static ULONG g_flags;
static struct vgt_stats g_stats;

static UNICODE_STRING counter_name = RTL_CONSTANT_STRING(L"\\Device\\VmGenerationCounter");
static UNICODE_STRING counter_link = RTL_CONSTANT_STRING(L"\\DosDevices\\VmGenerationCounter");
static UNICODE_STRING ctl_name = RTL_CONSTANT_STRING(L"\\Device\\VmGenTestCtl");
static UNICODE_STRING ctl_link = RTL_CONSTANT_STRING(L"\\DosDevices\\VmGenTestCtl");

static BOOLEAN same_value(const VGT_GENCOUNTER *a, const VGT_GENCOUNTER *b)
{
    return a->GenerationCount == b->GenerationCount && a->GenerationCountHigh == b->GenerationCountHigh;
}

static NTSTATUS complete(PIRP irp, NTSTATUS status, ULONG_PTR info)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = info;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static VOID NTAPI cancel_read(PDEVICE_OBJECT dev, PIRP irp)
{
    KIRQL irql;
    (void)dev;
    IoReleaseCancelSpinLock(irp->CancelIrql);
    KeAcquireSpinLock(&g_lock, &irql);
    RemoveEntryList(&irp->Tail.Overlay.ListEntry);
    g_stats.pending--;
    g_stats.cancelled++;
    KeReleaseSpinLock(&g_lock, irql);
    complete(irp, STATUS_CANCELLED, 0);
}

/* Take every pending read that `want(irp)` selects off the list (those whose cancel routine has not started)
 * and return them on `out`; the caller completes them after dropping the lock. */
static void collect(LIST_ENTRY *out, BOOLEAN (*want)(PIRP, void *), void *ctx)
{
    LIST_ENTRY *e, *next;
    for (e = g_pending.Flink; e != &g_pending; e = next) {
        PIRP irp = CONTAINING_RECORD(e, IRP, Tail.Overlay.ListEntry);
        next = e->Flink;
        if (!want(irp, ctx)) continue;
        if (IoSetCancelRoutine(irp, NULL) == NULL) continue; /* being cancelled: its routine unlinks it */
        RemoveEntryList(e);
        g_stats.pending--;
        InsertTailList(out, e);
    }
}

static BOOLEAN want_changed(PIRP irp, void *ctx)
{
    (void)ctx;
    return !same_value((VGT_GENCOUNTER *)irp->AssociatedIrp.SystemBuffer, &g_value);
}

static BOOLEAN want_file(PIRP irp, void *ctx)
{
    return IoGetCurrentIrpStackLocation(irp)->FileObject == (PFILE_OBJECT)ctx;
}

static BOOLEAN want_all(PIRP irp, void *ctx)
{
    (void)irp; (void)ctx;
    return TRUE;
}

static NTSTATUS counter_read(PIRP irp, PIO_STACK_LOCATION sp)
{
    ULONG in_len = sp->Parameters.DeviceIoControl.InputBufferLength;
    ULONG out_len = sp->Parameters.DeviceIoControl.OutputBufferLength;
    VGT_GENCOUNTER *buf = irp->AssociatedIrp.SystemBuffer;
    KIRQL irql;

    if (out_len < sizeof(VGT_GENCOUNTER)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
    if (in_len != 0 && in_len != sizeof(VGT_GENCOUNTER)) return complete(irp, STATUS_INVALID_PARAMETER, 0);

    KeAcquireSpinLock(&g_lock, &irql);
    if (g_flags & VGT_FLAG_DENY) {                       /* "not an administrator" */
        KeReleaseSpinLock(&g_lock, irql);
        return complete(irp, STATUS_ACCESS_DENIED, 0);
    }
    if (in_len == 0) {                                   /* polling */
        *buf = g_value;
        g_stats.polls++;
        KeReleaseSpinLock(&g_lock, irql);
        return complete(irp, STATUS_SUCCESS, sizeof(VGT_GENCOUNTER));
    }
    if (g_flags & VGT_FLAG_NO_EVENT) {                   /* an "old guest" */
        KeReleaseSpinLock(&g_lock, irql);
        return complete(irp, STATUS_NOT_SUPPORTED, 0);
    }
    g_stats.events_started++;
    if (!same_value(buf, &g_value)) {                    /* already differs: complete at once */
        *buf = g_value;
        g_stats.events_done++;
        KeReleaseSpinLock(&g_lock, irql);
        return complete(irp, STATUS_SUCCESS, sizeof(VGT_GENCOUNTER));
    }
    IoSetCancelRoutine(irp, cancel_read);
    if (irp->Cancel && IoSetCancelRoutine(irp, NULL) != NULL) {   /* cancelled before we queued it */
        g_stats.cancelled++;
        KeReleaseSpinLock(&g_lock, irql);
        return complete(irp, STATUS_CANCELLED, 0);
    }
    IoMarkIrpPending(irp);
    InsertTailList(&g_pending, &irp->Tail.Overlay.ListEntry);
    g_stats.pending++;
    KeReleaseSpinLock(&g_lock, irql);
    return STATUS_PENDING;
}

static void complete_list(LIST_ENTRY *list, BOOLEAN with_value)
{
    while (!IsListEmpty(list)) {
        PIRP irp = CONTAINING_RECORD(RemoveHeadList(list), IRP, Tail.Overlay.ListEntry);
        if (with_value) complete(irp, STATUS_SUCCESS, sizeof(VGT_GENCOUNTER));
        else complete(irp, STATUS_CANCELLED, 0);
    }
}

static NTSTATUS ctl_ioctl(PIRP irp, PIO_STACK_LOCATION sp)
{
    ULONG code = sp->Parameters.DeviceIoControl.IoControlCode;
    ULONG in_len = sp->Parameters.DeviceIoControl.InputBufferLength;
    ULONG out_len = sp->Parameters.DeviceIoControl.OutputBufferLength;
    void *buf = irp->AssociatedIrp.SystemBuffer;
    LIST_ENTRY done;
    KIRQL irql;

    InitializeListHead(&done);
    switch (code) {
    case VGT_IOCTL_SET:
    case VGT_IOCTL_SET_SILENT:
        if (in_len != sizeof(VGT_GENCOUNTER)) return complete(irp, STATUS_INVALID_PARAMETER, 0);
        KeAcquireSpinLock(&g_lock, &irql);
        g_value = *(VGT_GENCOUNTER *)buf;
        if (code == VGT_IOCTL_SET) {
            LIST_ENTRY *e;
            collect(&done, want_changed, NULL);
            for (e = done.Flink; e != &done; e = e->Flink) {   /* write the value while still under the lock */
                PIRP r = CONTAINING_RECORD(e, IRP, Tail.Overlay.ListEntry);
                *(VGT_GENCOUNTER *)r->AssociatedIrp.SystemBuffer = g_value;
                g_stats.events_done++;
            }
        }
        KeReleaseSpinLock(&g_lock, irql);
        complete_list(&done, TRUE);
        return complete(irp, STATUS_SUCCESS, 0);

    case VGT_IOCTL_FLAGS: {
        ULONG old, now;
        if (in_len != sizeof(ULONG)) return complete(irp, STATUS_INVALID_PARAMETER, 0);
        now = *(ULONG *)buf;
        KeAcquireSpinLock(&g_lock, &irql);
        old = g_flags;
        g_flags = now;
        g_stats.flags = now;
        KeReleaseSpinLock(&g_lock, irql);
        if ((now & VGT_FLAG_HIDDEN) && !(old & VGT_FLAG_HIDDEN)) IoDeleteSymbolicLink(&counter_link);
        if (!(now & VGT_FLAG_HIDDEN) && (old & VGT_FLAG_HIDDEN)) IoCreateSymbolicLink(&counter_link, &counter_name);
        if (out_len >= sizeof(ULONG)) {
            *(ULONG *)buf = old;
            return complete(irp, STATUS_SUCCESS, sizeof(ULONG));
        }
        return complete(irp, STATUS_SUCCESS, 0);
    }

    case VGT_IOCTL_STATS:
        if (out_len < sizeof(struct vgt_stats)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
        KeAcquireSpinLock(&g_lock, &irql);
        g_stats.count = g_value.GenerationCount;
        g_stats.count_high = g_value.GenerationCountHigh;
        *(struct vgt_stats *)buf = g_stats;
        KeReleaseSpinLock(&g_lock, irql);
        return complete(irp, STATUS_SUCCESS, sizeof(struct vgt_stats));
    }
    return complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
}

static NTSTATUS NTAPI dispatch_create(PDEVICE_OBJECT dev, PIRP irp)
{
    KIRQL irql;
    if (dev == g_counter_dev) {
        KeAcquireSpinLock(&g_lock, &irql);
        g_stats.opens++;
        KeReleaseSpinLock(&g_lock, irql);
    }
    return complete(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS NTAPI dispatch_close(PDEVICE_OBJECT dev, PIRP irp)
{
    KIRQL irql;
    if (dev == g_counter_dev) {
        KeAcquireSpinLock(&g_lock, &irql);
        g_stats.opens--;
        KeReleaseSpinLock(&g_lock, irql);
    }
    return complete(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS NTAPI dispatch_cleanup(PDEVICE_OBJECT dev, PIRP irp)
{
    LIST_ENTRY done;
    KIRQL irql;
    InitializeListHead(&done);
    if (dev == g_counter_dev) {
        KeAcquireSpinLock(&g_lock, &irql);
        collect(&done, want_file, IoGetCurrentIrpStackLocation(irp)->FileObject);
        {
            LIST_ENTRY *e;
            for (e = done.Flink; e != &done; e = e->Flink) g_stats.cancelled++;
        }
        KeReleaseSpinLock(&g_lock, irql);
        complete_list(&done, FALSE);
    }
    return complete(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS NTAPI dispatch_ioctl(PDEVICE_OBJECT dev, PIRP irp)
{
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
    if (dev == g_ctl_dev) return ctl_ioctl(irp, sp);
    if (sp->Parameters.DeviceIoControl.IoControlCode == VGT_IOCTL_VMGENCOUNTER_READ) return counter_read(irp, sp);
    return complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
}

static VOID NTAPI driver_unload(PDRIVER_OBJECT drv)
{
    LIST_ENTRY done;
    KIRQL irql;
    (void)drv;
    InitializeListHead(&done);
    KeAcquireSpinLock(&g_lock, &irql);
    collect(&done, want_all, NULL);
    KeReleaseSpinLock(&g_lock, irql);
    complete_list(&done, FALSE);
    if (!(g_flags & VGT_FLAG_HIDDEN)) IoDeleteSymbolicLink(&counter_link);
    IoDeleteSymbolicLink(&ctl_link);
    IoDeleteDevice(g_counter_dev);
    IoDeleteDevice(g_ctl_dev);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT drv, PUNICODE_STRING reg)
{
    NTSTATUS st;
    (void)reg;
    KeInitializeSpinLock(&g_lock);
    InitializeListHead(&g_pending);

    drv->MajorFunction[IRP_MJ_CREATE] = dispatch_create;
    drv->MajorFunction[IRP_MJ_CLOSE] = dispatch_close;
    drv->MajorFunction[IRP_MJ_CLEANUP] = dispatch_cleanup;
    drv->MajorFunction[IRP_MJ_DEVICE_CONTROL] = dispatch_ioctl;
    drv->DriverUnload = driver_unload;

    st = IoCreateDevice(drv, 0, &counter_name, FILE_DEVICE_ACPI, 0, FALSE, &g_counter_dev);
    if (!NT_SUCCESS(st)) return st;
    st = IoCreateDevice(drv, 0, &ctl_name, FILE_DEVICE_UNKNOWN, 0, FALSE, &g_ctl_dev);
    if (!NT_SUCCESS(st)) { IoDeleteDevice(g_counter_dev); return st; }
    st = IoCreateSymbolicLink(&counter_link, &counter_name);
    if (NT_SUCCESS(st)) st = IoCreateSymbolicLink(&ctl_link, &ctl_name);
    if (!NT_SUCCESS(st)) {
        IoDeleteSymbolicLink(&counter_link);
        IoDeleteDevice(g_counter_dev);
        IoDeleteDevice(g_ctl_dev);
        return st;
    }
    g_counter_dev->Flags |= DO_BUFFERED_IO;
    g_counter_dev->Flags &= ~DO_DEVICE_INITIALIZING;
    g_ctl_dev->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
