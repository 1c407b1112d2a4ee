/* A stand-in for the Windows SDK's iscsierr.h (vmgen tests): common.mof includes it but uses none of its
   macros in MOF text, so it is empty. */
