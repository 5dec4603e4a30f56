// The capabilities a rental keeps, shared by its container (options.ts) and its image build's
// steps (dockerfile.ts). Pure data.

/**
 * Capabilities a rental keeps; everything else is dropped. sshd needs SETUID/SETGID (privilege
 * separation), SYS_CHROOT (its pre-auth chroot), AUDIT_WRITE (login records), NET_BIND_SERVICE
 * (port 22), CHOWN (the pty); apt and pip need CHOWN, DAC_OVERRIDE, FOWNER; KILL lets root signal
 * its own processes. Dropped from Docker's defaults: NET_RAW (raw and packet sockets: spoofing,
 * sniffing), MKNOD (device nodes), SETFCAP and SETPCAP (file and process capabilities), FSETID.
 */
export const RENTAL_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID', 'SYS_CHROOT', 'AUDIT_WRITE', 'NET_BIND_SERVICE', 'KILL'] as const;
