// The session: who is logged in, in which tenant, with which role.
import { type QueryClient, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, type ReactNode, useContext } from "react";

import { ApiError, client, data, type Schemas } from "./api/client";

export type Me = Schemas["Me"];
export type Role = "admin" | "operator" | "sales";

interface Session {
  me: Me | null;
  loading: boolean;
  role: Role | null;
  refresh: () => Promise<unknown>;
}

const SessionContext = createContext<Session>({ me: null, loading: true, role: null, refresh: async () => {} });

export const ME_KEY = ["auth", "me"];

/** A new session (login, logout, another tenant): drop every cached answer of the old one and
 * put the new "me" in place. The session query itself stays so its observers keep listening. */
function startSession(queryClient: QueryClient, me: Me | null): void {
  queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== ME_KEY[0] });
  queryClient.setQueryData(ME_KEY, me);
}

async function fetchMe(): Promise<Me | null> {
  try {
    return await data(client.GET("/api/v1/auth/me/"));
  } catch (error) {
    // Anonymous: the API says 401 (or 403 for a session without CSRF); either way, not logged in.
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return null;
    throw error;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const query = useQuery({ queryKey: ME_KEY, queryFn: fetchMe, staleTime: 60_000, retry: false });
  const me = query.data ?? null;
  const value: Session = {
    me,
    loading: query.isPending,
    role: (me?.role as Role | null) ?? null,
    refresh: () => query.refetch(),
  };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  return useContext(SessionContext);
}

export function useLogin() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (body: { username: string; password: string }) => {
      await client.GET("/api/v1/auth/csrf/"); // sets the CSRF cookie the login POST needs
      return data(client.POST("/api/v1/auth/login/", { body }));
    },
    onSuccess: (me) => startSession(queryClient, me),
  });
}

export function useLogout() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () => data(client.POST("/api/v1/auth/logout/")),
    onSettled: () => startSession(queryClient, null),
  });
}

export function useSwitchTenant() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (tenant: string) => data(client.POST("/api/v1/auth/switch-tenant/", { body: { tenant } })),
    onSuccess: (me) => {
      // Everything cached belongs to the previous tenant.
      startSession(queryClient, me);
    },
  });
}

/** Roles allowed to manage (not only read): admins and operators. */
export function canManage(role: Role | null): boolean {
  return role === "admin" || role === "operator";
}
